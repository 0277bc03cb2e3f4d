"""The Service descriptor: everything mailcert knows about one kind of host service, in one frozen value.

Each service folder (services/<name>/service.py) defines its SERVICE; services/registry lists them. What a
service does when fixed lives above this stage: its validate and reload commands in roles/<name>/role.yml
(read by fix/roles.py, which honours --roles overrides), its planner in fix/plan/services.py (keyed by the
same name, so nothing here imports fix/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mailcert.facts import HostFiles
from mailcert.ports import STANDARD_PORTS, PortRole, ports_speaking
from mailcert.services.model import ServiceConfig


class Parser(Protocol):
    """HostFiles → ServiceConfig. `version`: the installed daemon's version as the host reports it (the gather's
    `postconf -h mail_version`, `dovecot --version`), None when unknown (lint of a tree); parsers whose reading
    depends on it (Postfix defaults, Dovecot 2.3 or 2.4 syntax) take it, the others ignore it."""

    def __call__(self, files: HostFiles, *, version: str | None = None) -> ServiceConfig: ...


@dataclass(frozen=True)
class Service:
    """One kind of host service (postfix, dovecot, exim, cpanel, certbot)."""

    name: str  # also its roles/<name>/ folder and its key in fix/plan's planner registry
    summary: str
    markers: tuple[str, ...] = ()  # any of these host paths present → the service is detected
    config_folders: tuple[str, ...] = ()  # path prefixes of its configuration: writing there runs validate
    include_folders: tuple[str, ...] = ()  # where its includes may lead (services/include_scope.py)
    daemons: tuple[str, ...] = ()  # the programs that serve its ports, as `ps` names them
    protocols: tuple[str, ...] = ()  # the dialogues it serves on the standard ports (smtp, imap, pop3)
    parser: Parser | None = None  # HostFiles → ServiceConfig; None: not a mail service of its own (certbot)

    @property
    def ports(self) -> dict[int, PortRole]:
        """The standard ports this service answers on, with the mode each speaks."""
        return {port: STANDARD_PORTS[port] for port in ports_speaking(*self.protocols)}

    @property
    def role_file(self) -> str:
        """Its role file, relative to a roles folder (validate and reload commands, templates)."""
        return f"{self.name}/role.yml"

    def holds(self, path: str) -> bool:
        """True when `path` is one of this service's configuration files."""
        return path.startswith(self.config_folders) if self.config_folders else False
