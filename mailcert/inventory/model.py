"""What an inventory says about a mail host: connection settings and mailcert_* variables, typed and frozen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailcert.errors import InventoryError

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
DEFAULT_CENTRAL_CERT_DIR = "/etc/mailcert/live"
DEFAULT_RENEW_BEFORE_DAYS = 30
DEFAULT_PROPAGATION_SECONDS = 60
# Inventory variables that would hold a DNS update secret inline: central mode refuses them, never reads them.
INLINE_SECRETS = (
    "mailcert_acme_dns_secret",
    "mailcert_tsig_secret",
    "mailcert_tsig_key",
    "dns_rfc2136_secret",
)


@dataclass(frozen=True)
class Refusal:
    """A value the stage that uses it refuses, while the others read on without it (the audit does not fail
    over a bad `mailcert_state_dir`; `fix` does)."""

    what: str
    where: Where

    def error(self) -> InventoryError:
        return InventoryError(self.what, where=str(self.where), todo="fix the inventory")


@dataclass(frozen=True)
class FixSettings:
    """The inventory variables of `fix` and `verify --renew` beyond SPEC's (docs/contract-additions.md §2)."""

    hostnames_from_dns: bool = False  # mailcert_hostnames_from_dns
    acme_preflight: bool = True  # mailcert_acme_preflight
    acme_caa_domain: str | None = None  # mailcert_acme_caa_domain, lower case, no trailing dot
    cert_name: str | None = None  # mailcert_cert_name
    state_dir: str | Refusal = DEFAULT_STATE_DIR  # mailcert_state_dir: absolute, on the host
    central_cert_dir: str = DEFAULT_CENTRAL_CERT_DIR  # mailcert_central_cert_dir: absolute, on the host
    central_state_dir: str | None = None  # mailcert_central_state_dir: absolute, on the control machine
    acme_dns_credentials: str | None = field(default=None, repr=False)  # a credentials file's path
    acme_dns_credentials_env: str | None = None  # the name of an environment variable holding that text
    acme_dns_propagation_seconds: int = DEFAULT_PROPAGATION_SECONDS
    renew_before_days: int = DEFAULT_RENEW_BEFORE_DAYS  # mailcert_renew_before_days
    inline_secret: str | None = (
        None  # the first of INLINE_SECRETS the inventory sets (refused by central mode)
    )


@dataclass(frozen=True)
class InventoryHost:
    """One inventory host, its connection settings and the mailcert_* variables of SPEC.

    `user` None means "the local user name" (as ssh does). `hostnames` are the names every TLS service must
    cover (mailcert_hostnames as a list); `service_hostnames` holds the per-service form
    (`smtp`, `submission`, `imap`, `pop3` → names). `roles` None means "detect from the files present".
    `inventory_hostnames` is every name mailcert_hostnames writes (both forms), kept as written when later
    stages extend `hostnames` (from DNS or the configuration). `fix` holds the variables only fix reads.
    `vars` holds every variable after precedence (passwords wrapped in Secret) for the inventory's own
    tests; nothing outside mailcert.inventory reads it (tests/unit/test_host_contract.py).
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
    roles_where: str | None = None  # where mailcert_roles is set (its names are checked against the services)
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
    resolver: str | None = None  # mailcert_resolver: ADDR[:PORT] for mailcert_domains lookups
    inventory_hostnames: tuple[str, ...] = ()
    fix: FixSettings = field(default_factory=FixSettings)
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
