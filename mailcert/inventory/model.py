"""What an inventory says about a mail host: connection settings and mailcert_* variables, typed and frozen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SERVICE_ROLES = ("postfix", "dovecot", "exim", "cpanel")
HOSTNAME_SERVICES = ("smtp", "submission", "imap", "pop3")


@dataclass(frozen=True)
class Where:
    """A place in an inventory file (local path, 1-based line) for error messages."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class Secret:
    """A password from the inventory. Its repr and str are masked so it cannot leak into logs or reports."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The clear text, for the one place that needs it (sudo's stdin)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024 * 1024  # as much as one host's gathered facts may be
DEFAULT_STATE_DIR = (
    "/var/lib/mailcert"  # mailcert_state_dir: the host folder of fix's lock, journal and backups
)


@dataclass(frozen=True)
class InventoryHost:
    """One inventory host, its connection settings and the mailcert_* variables of SPEC.

    `user` None means "the local user name" (as ssh does). `hostnames` are the names every TLS service must
    cover (mailcert_hostnames as a list); `service_hostnames` holds the per-service form
    (`smtp`, `submission`, `imap`, `pop3` → names). `roles` None means "detect from the files present".
    `vars` holds every variable after precedence (passwords wrapped in Secret) for consumers with
    needs beyond these fields.
    """

    name: str
    address: str
    port: int = 22
    user: str | None = None
    private_key_file: str | None = None
    password: Secret | None = None
    become: bool = False
    become_user: str = "root"
    become_password: Secret | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    roles: tuple[str, ...] | None = None
    hostnames: tuple[str, ...] = ()
    service_hostnames: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    domains: tuple[str, ...] = ()
    probe_address: str | None = None
    warn_days: int = 21
    crit_days: int = 7
    ca_bundle: str | None = None
    acme_server: str = "letsencrypt"
    acme_email: str | None = None
    acme_challenge: str = "standalone"
    acme_webroot: str | None = None
    acme_ca_bundle: str | None = None
    acme_mode: str = "host"
    reuse_key: bool | None = None
    acme_allowed_names: tuple[str, ...] = ()  # mailcert_acme_allowed_names: patterns central mode may issue
    roles_dir: str | None = None  # mailcert_roles_dir: a local roles folder that overrides the packaged roles
    max_output_bytes: int = (
        DEFAULT_MAX_OUTPUT_BYTES  # mailcert_max_output_bytes: what one SSH command may print
    )
    groups: tuple[str, ...] = ()
    source: Where | None = None
    vars: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def names_for(self, service: str) -> tuple[str, ...]:
        """Names clients use for `service` (smtp, submission, imap, pop3): the list form plus that service's."""
        extra = self.service_hostnames.get(service, ())
        return tuple(dict.fromkeys((*self.hostnames, *extra)))

    @property
    def ssh_target(self) -> str:
        """user@address:port as ssh would be told, for messages."""
        user = f"{self.user}@" if self.user else ""
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{user}{address}:{self.port}"


@dataclass(frozen=True)
class Inventory:
    """Hosts in inventory order, and each group's member hosts (transitively, children included)."""

    hosts: tuple[InventoryHost, ...]
    groups: Mapping[str, tuple[str, ...]]
    sources: tuple[str, ...] = ()

    def host(self, name: str) -> InventoryHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def select(self, limit: str | None) -> tuple[InventoryHost, ...]:
        """Hosts matching an Ansible-style --limit pattern (all hosts when None), in inventory order."""
        from mailcert.inventory.patterns import select_hosts

        if limit is None or not limit.strip():
            return self.hosts
        names = select_hosts(limit, [h.name for h in self.hosts], self.groups)
        return tuple(h for h in self.hosts if h.name in names)
