"""A Dovecot configuration as Dovecot sees it: global settings, filters, service sections, and lookups.

`DovecotConfig.value(name, local_name=…, local=…, protocol=…)` answers like
`doveconf -c FILE -f lname=… -f local=… -f protocol=… -h NAME`; `non_default()` like `doveconf -n` for the
settings this package models. Reading goes through HostFiles only (mailcert.services.dovecot.syntax).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from mailcert.facts import HostFiles
from mailcert.services.dovecot import settings as known
from mailcert.services.dovecot.build import build
from mailcert.services.dovecot.filters import Filter, FilterConflictError, FilterIndex, Query, Setting, merge
from mailcert.services.dovecot.syntax import Problem, read_dovecot_config
from mailcert.services.model import Location

DEFAULT_CONFIG = "/etc/dovecot/dovecot.conf"

# Login services, the protocol each serves, and their built-in inet_listeners (name: port, implicit TLS).
LOGIN_SERVICES: dict[str, tuple[str, dict[str, tuple[int, bool]]]] = {
    "imap-login": ("imap", {"imap": (143, False), "imaps": (993, True)}),
    "pop3-login": ("pop3", {"pop3": (110, False), "pop3s": (995, True)}),
    "submission-login": ("submission", {"submission": (587, False)}),
}
# Built-in listeners Dovecot 2.4 adds (`doveconf -a service/submission-login` of 2.4.1; 2.3.19 has none).
_BUILTIN_24: dict[str, dict[str, tuple[int, bool]]] = {"submission-login": {"submissions": (465, True)}}


@dataclass(frozen=True)
class Override:
    """A setting assigned twice in one scope (the later wins), or a global set after a filter set it."""

    earlier: Setting
    later: Setting
    scope: str
    global_after_filter: bool = False


@dataclass
class DovecotConfig:
    """The parsed configuration. `filters[0]` is the root (global settings)."""

    path: str
    version: str
    filters: list[Filter]
    sections: dict[tuple[str, ...], dict[str, Setting]]
    section_locations: dict[tuple[str, ...], Location]
    files_read: tuple[str, ...] = ()
    problems: list[Problem] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    unmatched_include_try: tuple[str, ...] = ()
    _index: FilterIndex | None = field(default=None, repr=False, compare=False)
    _cache: dict[Query, tuple[dict[str, Setting], dict[str, Filter]] | FilterConflictError] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def root(self) -> Filter:
        return self.filters[0]

    def effective(self, query: Query) -> dict[str, Setting]:
        """Settings set somewhere that apply to this lookup; raises FilterConflictError like Dovecot 2.3."""
        return self._merged(query)[0]

    def candidates(self, query: Query) -> list[Filter]:
        """Filters that may match a lookup (a superset, in config order)."""
        if self._index is None:
            self._index = FilterIndex(self.filters)
        return self._index.candidates(query)

    def _merged(self, query: Query) -> tuple[dict[str, Setting], dict[str, Filter]]:
        if query not in self._cache:
            try:
                self._cache[query] = merge(self.candidates(query), query, self.version)
            except FilterConflictError as conflict:
                self._cache[query] = conflict
        result = self._cache[query]
        if isinstance(result, FilterConflictError):
            raise result
        return result

    def setting(
        self,
        name: str,
        *,
        local_name: str | None = None,
        local: str | None = None,
        remote: str | None = None,
        protocol: str | None = None,
    ) -> Setting | None:
        """Where the effective value of `name` comes from, or None when it is left at its default."""
        query = make_query(local_name=local_name, local=local, remote=remote, protocol=protocol)
        return self.effective(query).get(name)

    def value(
        self,
        name: str,
        *,
        local_name: str | None = None,
        local: str | None = None,
        remote: str | None = None,
        protocol: str | None = None,
    ) -> str | None:
        """What `doveconf -h NAME` prints for this lookup; None for a name this model does not know.

        `service/imap-login/inet_listener/imaps/port` style names read service sections. Raises
        FilterConflictError where doveconf fails with "Conflict in setting".
        """
        if "/" in name:
            return self.listener_value(name)
        found = self.setting(name, local_name=local_name, local=local, remote=remote, protocol=protocol)
        if found is not None:
            return found.shown
        return known.defaults(self.version).get(name)

    def listener_value(self, name: str) -> str | None:
        parts = name.split("/")
        if len(parts) != 5 or parts[0] != "service" or parts[2] != "inet_listener":
            return None
        _, service, _, listener, key = parts
        found = self.sections.get((f"service {service}", f"inet_listener {listener}"), {}).get(key)
        if found is not None:
            return found.value
        builtin = self.builtin_listeners(service).get(listener)
        if key == "port":
            return str(builtin[0]) if builtin else "0"
        if key == "ssl":
            return "yes" if builtin and builtin[1] else "no"
        return "" if key in ("address", "listen") else None

    def builtin_listeners(self, service: str) -> dict[str, tuple[int, bool]]:
        """The inet_listeners a login service has without configuration: name → (port, implicit TLS)."""
        builtin = LOGIN_SERVICES.get(service, ("", {}))[1]
        return builtin | _BUILTIN_24.get(service, {}) if self.version == "2.4" else builtin

    def listeners(self, service: str) -> list[str]:
        """inet_listener names of a service: the built-in ones, then those the config adds."""
        names = list(self.builtin_listeners(service))
        for path in self.sections:
            if len(path) == 2 and path[0] == f"service {service}" and path[1].startswith("inet_listener "):
                name = path[1].removeprefix("inet_listener ")
                if name not in names:
                    names.append(name)
        return names

    def protocols(self) -> list[str]:
        """Enabled protocols (`protocols`; `none` means none)."""
        words = (self.value("protocols") or "").split()
        return [] if words == ["none"] else words

    def non_default(self) -> dict[tuple[str, ...], dict[str, str]]:
        """Like `doveconf -nP`, for the modelled settings: globals that differ from the default, every
        setting made inside a filter, and every listener setting (key: the filter/section nesting)."""
        modelled = known.modelled(self.version)
        out: dict[tuple[str, ...], dict[str, str]] = {}
        defaults = known.defaults(self.version)
        for flt in self.filters:
            chosen = {
                k: s.shown
                for k, s in flt.settings.items()
                if k in modelled and (not flt.is_root or s.shown != defaults.get(k))
            }
            if chosen:
                out[flt.labels] = chosen
        for path, settings in self.sections.items():
            chosen = {
                k: s.value
                for k, s in settings.items()
                if len(path) == 2 and path[1].startswith("inet_listener ") and k in ("port", "ssl")
            }
            if chosen:
                out[path] = chosen
        return out

    def conflicts(self) -> list[FilterConflictError]:
        """Conflicts Dovecot reports when it checks each filter block as a lookup (what `doveconf -n` does)."""
        found: dict[tuple[str, int, int], FilterConflictError] = {}
        for flt in self.filters[1:]:
            for query in queries_for(flt):
                try:
                    self.effective(query)
                except FilterConflictError as conflict:
                    found.setdefault((conflict.key, conflict.later.order, conflict.earlier.order), conflict)
        return list(found.values())


def make_query(
    *,
    local_name: str | None = None,
    local: str | None = None,
    remote: str | None = None,
    protocol: str | None = None,
) -> Query:
    return Query(
        local_name=local_name,
        local=ipaddress.ip_network(local, strict=False) if local else None,
        remote=ipaddress.ip_network(remote, strict=False) if remote else None,
        protocol=protocol,
    )


def queries_for(flt: Filter) -> list[Query]:
    """Lookups that land exactly in this filter: one per local_name name."""
    if flt.unresolved or (flt.protocol or "").startswith("!"):
        return []
    names: tuple[str | None, ...] = flt.names or (None,)
    return [Query(local_name=n, local=flt.local, remote=flt.remote, protocol=flt.protocol) for n in names]


def load_dovecot_config(
    files: HostFiles, path: str = DEFAULT_CONFIG, version: str | None = None
) -> DovecotConfig:
    """Read and build the configuration. `version` ("2.3", "2.4" or a full version string) is what is
    installed, when known; otherwise 2.4 when `dovecot_config_version` is set, else 2.3."""
    wanted = None if version is None else ("2.4" if version.startswith("2.4") else "2.3")
    read = read_dovecot_config(files, path, wanted)
    detected = "2.4" if any(line.key == "dovecot_config_version" for line in read.lines) else "2.3"
    built = build(read.lines, wanted or detected)
    return DovecotConfig(
        path=path,
        version=wanted or detected,
        filters=built.filters,
        sections=built.sections,
        section_locations=built.section_locations,
        files_read=tuple(read.files_read),
        problems=read.problems + built.problems,
        overrides=[Override(*o) for o in built.overrides],
        unmatched_include_try=tuple(read.unmatched_include_try),
    )
