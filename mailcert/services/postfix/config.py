"""Postfix's effective configuration: main.cf + master.cf overrides, evaluated like postconf does.

`PostfixConfig.value(name)` is what `postconf -xh name` prints; `value(name, "submission/inet")` is what that
smtpd service runs with (main.cf plus its `-o` overrides, lazily expanded so `$refs` see the overrides too).
`explicit()` is `postconf -n`, `overrides()` is `postconf -P` (both unexpanded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailcert.errors import MailcertError
from mailcert.facts import HostFiles
from mailcert.services.model import Location
from mailcert.services.postfix.expand import MacroError, referenced_names
from mailcert.services.postfix.expand import expand as expand_value
from mailcert.services.postfix.params import defaults
from mailcert.services.postfix.syntax import (
    Definition,
    MainCf,
    MasterCf,
    MasterEntry,
    Override,
    parse_main_cf,
    parse_master_cf,
)

DEFAULT_CONFIG_DIR = "/etc/postfix"
_DEFAULT_DOMAIN = "localdomain"


@dataclass(frozen=True)
class Setting:
    """Where a parameter's effective raw value comes from: a -o override, main.cf, or the built-in default."""

    name: str
    raw: str | None
    location: Location | None  # None for a built-in default
    origin: str  # "override" | "main.cf" | "default" | "undefined"


class PostfixConfig:
    """main.cf and master.cf of one Postfix instance, parsed once; values are computed on demand."""

    def __init__(
        self,
        main_cf: MainCf,
        master_cf: MasterCf | None,
        *,
        config_dir: str = DEFAULT_CONFIG_DIR,
        hostname: str | None = None,
        version: str | None = None,
    ) -> None:
        self.version = version  # the installed Postfix's mail_version when known (audit); picks the defaults
        self._defaults = defaults(version)
        self.config_dir = config_dir.rstrip("/") or "/"
        self.main_path = f"{self.config_dir.rstrip('/')}/main.cf"
        self.master_path = f"{self.config_dir.rstrip('/')}/master.cf"
        self.main_cf = main_cf
        self.master_cf = master_cf
        self.hostname = hostname  # what gethostname() would say on the host; None when unknown
        self._main: dict[str, Definition] = {d.name: d for d in main_cf.definitions}
        entries = master_cf.entries if master_cf else ()
        self._entries: dict[str, MasterEntry] = {}
        for entry in entries:  # the last entry with the same name and type wins (master(5))
            self._entries.pop(entry.key, None)
            self._entries[entry.key] = entry
        self._overrides: dict[str, dict[str, Override]] = {
            key: {o.name: o for o in entry.overrides} for key, entry in self._entries.items()
        }
        self._cache: dict[tuple[str, str | None], str] = {}
        self._computing_hostname = False

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_text(
        cls,
        main_cf: str,
        master_cf: str | None = "",
        *,
        config_dir: str = DEFAULT_CONFIG_DIR,
        hostname: str | None = None,
        version: str | None = None,
    ) -> PostfixConfig:
        master = parse_master_cf(master_cf) if master_cf is not None else None
        return cls(parse_main_cf(main_cf), master, config_dir=config_dir, hostname=hostname, version=version)

    @classmethod
    def load(
        cls, files: HostFiles, config_dir: str = DEFAULT_CONFIG_DIR, *, version: str | None = None
    ) -> PostfixConfig:
        """Read main.cf, master.cf and the host name from a host's files; MailcertError if main.cf is unreadable."""
        base = config_dir.rstrip("/") or "/"
        main = files.read_config(f"{base.rstrip('/')}/main.cf")
        if main.text is None:
            raise MailcertError(
                f"cannot read Postfix main.cf: {main.error}",
                where=main.path,
                todo="check the path (--role postfix expects /etc/postfix/main.cf) and its permissions",
            )
        master = files.read_config(f"{base.rstrip('/')}/master.cf")
        master_text = master.text if master.text is not None else None
        return cls.from_text(
            main.text, master_text, config_dir=base, hostname=host_name(files), version=version
        )

    # -- master.cf ------------------------------------------------------------------------------
    def services(self) -> list[MasterEntry]:
        """The master.cf entries in effect (a later entry with the same name/type replaces an earlier one)."""
        return list(self._entries.values())

    def all_entries(self) -> tuple[MasterEntry, ...]:
        return self.master_cf.entries if self.master_cf else ()

    def service(self, key: str) -> MasterEntry | None:
        return self._entries.get(key)

    def overrides(self) -> dict[str, str]:
        """`postconf -P`: "service/type/name" → raw override value, for the entries in effect."""
        return {
            f"{key}/{name}": override.value
            for key, by_name in self._overrides.items()
            for name, override in sorted(by_name.items())
        }

    # -- main.cf --------------------------------------------------------------------------------
    def explicit(self) -> dict[str, str]:
        """`postconf -n`: every parameter set in main.cf (last definition), unexpanded."""
        return {name: d.value for name, d in sorted(self._main.items())}

    def definitions(self, name: str) -> list[Definition]:
        """Every main.cf definition of `name`, in file order (only the last one counts)."""
        return [d for d in self.main_cf.definitions if d.name == name]

    def referenced_names(self) -> set[str]:
        """Names mentioned as `$name` anywhere in main.cf values or master.cf overrides."""
        names: set[str] = set()
        for d in self.main_cf.definitions:
            names |= referenced_names(d.value)
        for entry in self.all_entries():
            for o in entry.overrides:
                names |= referenced_names(o.value)
        return names

    # -- evaluation -----------------------------------------------------------------------------
    def setting(self, name: str, service: str | None = None) -> Setting:
        """Where `name` gets its raw value for `service` ("smtp/inet"; None = main.cf alone)."""
        if service is not None:
            override = self._overrides.get(service, {}).get(name)
            if override is not None:
                return Setting(name, override.value, Location(self.master_path, override.line), "override")
        definition = self._main.get(name)
        if definition is not None:
            return Setting(name, definition.value, Location(self.main_path, definition.line), "main.cf")
        default = self._default(name, service)
        return Setting(name, default, None, "undefined" if default is None else "default")

    def is_explicit(self, name: str, service: str | None = None) -> bool:
        """Set in main.cf or by the service's -o options (not a built-in default)."""
        return name in self._main or (service is not None and name in self._overrides.get(service, {}))

    def raw(self, name: str, service: str | None = None) -> str | None:
        """The unexpanded value, None when Postfix does not know the name and nobody set it."""
        return self.setting(name, service).raw

    def value(self, name: str, service: str | None = None, expand: bool = True) -> str:
        """The value as `postconf -xh` prints it (expanded); raises MacroError where Postfix would stop."""
        if not expand:
            return self.raw(name, service) or ""
        key = (name, service)
        if key not in self._cache:
            raw = self.raw(name, service) or ""
            self._cache[key] = expand_value(raw, lambda other: self.raw(other, service))
        return self._cache[key]

    def try_value(self, name: str, service: str | None = None) -> tuple[str, str | None]:
        """(value, error): the expanded value, or the raw value and why it cannot be expanded."""
        try:
            return self.value(name, service), None
        except MacroError as exc:
            return self.raw(name, service) or "", str(exc)

    def _default(self, name: str, service: str | None) -> str | None:
        if name == "config_directory":
            return self.config_dir
        if name == "myhostname":
            return self._default_myhostname(service)
        if name == "mydomain":
            return self._default_mydomain(service)
        return self._defaults.get(name)

    def _default_myhostname(self, service: str | None) -> str | None:
        """gethostname(), with "." + $mydomain appended when it is not fully qualified (Postfix mail_params.c)."""
        if not self.hostname:
            return None
        if "." in self.hostname:
            return self.hostname
        domain = _DEFAULT_DOMAIN
        if self.is_explicit("mydomain", service) and not self._computing_hostname:
            self._computing_hostname = True  # mydomain = $myhostname... must not loop
            try:
                domain = self.value("mydomain", service) or _DEFAULT_DOMAIN
            except MacroError:
                domain = _DEFAULT_DOMAIN
            finally:
                self._computing_hostname = False
        return f"{self.hostname}.{domain}"

    def _default_mydomain(self, service: str | None) -> str:
        """myhostname minus its first label, unless that leaves a single label (Postfix mail_params.c)."""
        try:
            host = self.value("myhostname", service)
        except MacroError:
            return _DEFAULT_DOMAIN
        _, dot, rest = host.partition(".")
        return rest if dot and "." in rest else _DEFAULT_DOMAIN


def host_name(files: HostFiles) -> str | None:
    """The host's name as gethostname() would give it: /etc/hostname, else /etc/mailname."""
    for path in ("/etc/hostname", "/etc/mailname"):
        text = files.read_config(path).text
        if text:
            first = next((line.strip() for line in text.splitlines() if line.strip()), "")
            if first and not first.startswith("#") and len(first) <= 253 and " " not in first:
                return first
    return None


def is_yes(value: str) -> bool | None:
    """A Postfix boolean: True for "yes", False for "no" (any case), None for anything else (fatal in Postfix)."""
    lowered = value.strip().lower()
    return True if lowered == "yes" else False if lowered == "no" else None


def file_list(value: str) -> list[str]:
    """A list parameter split at commas and whitespace (smtpd_tls_chain_files, SNI map values)."""
    return [part for part in value.replace(",", " ").split() if part]


def unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
