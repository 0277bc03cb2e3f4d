"""What a kind of lab host is made of: mail services, each knowing its files, ports and reload."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mailcert.lab.layout import LabHost
from mailcert.lab.procs import RecordedProcess
from mailcert.lab.services import InHost


@dataclass(frozen=True)
class MailService:
    """One daemon on a lab host.

    prepare: copy package defaults once; configure: write the healthy config (again on every reset);
    start/reload/running: operate it inside the host.
    """

    name: str
    bind_dirs: tuple[str, ...]
    ports: Mapping[int, str]  # port -> "starttls" | "implicit"
    reload_command: str  # what the certbot deploy hook runs
    prepare: Callable[[LabHost], None]
    configure: Callable[[LabHost], None]
    start: Callable[[InHost], RecordedProcess]
    reload: Callable[[InHost], None]
    running: Callable[[InHost], bool]
    # (lower folder, target): read-only overlays in the host's mount namespace (Exim's private /usr/sbin).
    overlays: tuple[tuple[str, str], ...] = ()
    # A group that must read the private key (Exim reads it after dropping root): keys become 0640 root:GROUP.
    key_group: str | None = None


@dataclass(frozen=True)
class HostKind:
    """A kind of lab host (`postfix-dovecot`, ...): its services and the binaries they need."""

    name: str
    services: tuple[MailService, ...]
    binaries: tuple[str, ...]

    @property
    def key_group(self) -> str | None:
        return next((svc.key_group for svc in self.services if svc.key_group), None)

    @property
    def ports(self) -> dict[int, tuple[str, str]]:
        """port -> (service, mode) for every TLS-capable port of the host."""
        return {port: (svc.name, mode) for svc in self.services for port, mode in svc.ports.items()}
