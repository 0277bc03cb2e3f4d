"""Dovecot filters (`local`, `local_name`, `remote`, `protocol` blocks) and how a lookup merges them.

Dovecot 2.3 (config-filter.c; every rule below was checked against doveconf 2.3.19 `-f` lookups): the
filters matching a lookup are ranked — a `local_name` filter first, then more `local` mask bits, then more
`remote` bits, then a `protocol` filter, then config order — and the first one ranked that sets a setting
gives its value, whatever the position of the global setting in the file. When a filter is not a superset
of the one ranked just before it (e.g. `protocol imap` after `local_name x`) and sets a setting already
taken, Dovecot fails with "Conflict in setting X found from filter at FILE:LINE". Among several matching
`local_name` filters the first in the file wins (2.3). Dovecot 2.4 ranks differently: see merge().
"""

from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import dataclass, field

from mailcert.errors import MailcertError
from mailcert.services.model import Location

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FILTER_KINDS = ("local", "local_name", "remote", "protocol")  # the only nesting order Dovecot accepts


@dataclass
class Setting:
    """One `key = value` as the effective config holds it (the last assignment in its scope)."""

    key: str
    value: str
    location: Location
    file_ref: bool = False
    quoted: bool = False
    heredoc: bool = False
    text: str = ""

    @property
    def shown(self) -> str:
        """The value as `doveconf -h` prints it (a file reference keeps its `<`)."""
        return "<" + self.value if self.file_ref else self.value

    @property
    def path(self) -> str | None:
        """The file a `<file` value names, relative paths taken from the including file's directory."""
        if not self.file_ref or not self.value:
            return None
        if self.value.startswith("/"):
            return self.value
        return posixpath.normpath(posixpath.join(posixpath.dirname(self.location.file), self.value))


@dataclass(frozen=True)
class Query:
    """What a lookup knows about a connection, like `doveconf -f lname=… -f local=… -f protocol=…`."""

    local_name: str | None = None
    local: Network | None = None
    remote: Network | None = None
    protocol: str | None = None


@dataclass
class Filter:
    """A filter block (all blocks with the same conditions share one, as in Dovecot). The root has none."""

    local: Network | None = None
    remote: Network | None = None
    local_name: str | None = None
    protocol: str | None = None
    unresolved: bool = False  # `local`/`remote` names a host: resolved by DNS at start, never matched here
    location: Location | None = None
    order: int = 0
    labels: tuple[str, ...] = ()  # e.g. ("local 10.0.0.0/8", "protocol imap"), as doveconf -n nests them
    settings: dict[str, Setting] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        return not self.labels

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.local_name.split()) if self.local_name else ()

    @property
    def identity(self) -> tuple[str, ...]:
        return self.labels

    def describe(self) -> str:
        if self.is_root:
            return "the global settings"
        where = f" ({self.location.file} line {self.location.line})" if self.location else ""
        return " { ".join(self.labels) + " }" * (len(self.labels) - 1) + where

    def rank(self) -> tuple[int, int, int, int]:
        """Higher ranks first; the order Dovecot 2.3 applies matching filters in."""
        return (
            1 if self.local_name is not None else 0,
            self.local.prefixlen if self.local is not None else 0,
            self.remote.prefixlen if self.remote is not None else 0,
            1 if self.protocol is not None else 0,
        )

    def is_superset_of(self, other: Filter) -> bool:
        """Dovecot's config_filter_is_superset: every condition of self is at least as broad in other."""
        mine, theirs = self.rank(), other.rank()
        return all(a <= b for a, b in zip(mine, theirs, strict=True))

    def matches(self, query: Query) -> bool:
        if self.unresolved:
            return False
        if self.local is not None and not _in_network(query.local, self.local):
            return False
        if self.remote is not None and not _in_network(query.remote, self.remote):
            return False
        if self.local_name is not None and (
            query.local_name is None or not any(wildcard_match(n, query.local_name) for n in self.names)
        ):
            return False
        if self.protocol is not None:
            if query.protocol is None:
                return False
            if self.protocol.startswith("!"):
                return query.protocol != self.protocol[1:]
            return query.protocol == self.protocol
        return True


def _in_network(address: Network | None, network: Network) -> bool:
    if address is None or address.version != network.version:
        return False
    return address.prefixlen >= network.prefixlen and address.network_address in network


def wildcard_match(pattern: str, name: str) -> bool:
    """Dovecot's dns_match_wildcard: case-insensitive, `*` stands for exactly one label."""
    want, have = pattern.lower().rstrip(".").split("."), name.lower().rstrip(".").split(".")
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have, strict=True))


class FilterConflictError(MailcertError):
    """Two matching filters set the same setting and neither is the more specific one (Dovecot 2.3 fails)."""

    def __init__(self, key: str, later: Filter, earlier: Filter, query: Query) -> None:
        self.key, self.later, self.earlier, self.query = key, later, earlier, query
        super().__init__(
            f"Conflict in setting {key} found from filter at {later.describe()} (also set in {earlier.describe()})",
            todo="set it in one block only, or nest the blocks",
        )


class FilterIndex:
    """The filters a lookup may match, found without testing every local_name block (a host with
    hundreds of SNI names would otherwise cost names × blocks)."""

    def __init__(self, filters: list[Filter]) -> None:
        self.always: list[Filter] = []
        self.exact: dict[str, list[Filter]] = {}
        self.wild: dict[str, list[Filter]] = {}
        for flt in filters:
            if flt.local_name is None:
                self.always.append(flt)
                continue
            for name in flt.names:
                low = name.lower().rstrip(".")
                if "*" not in low:
                    self.exact.setdefault(low, []).append(flt)
                elif low.startswith("*.") and "*" not in low[2:]:
                    self.wild.setdefault(low[2:], []).append(flt)
                elif flt not in self.always:
                    self.always.append(flt)

    def candidates(self, query: Query) -> list[Filter]:
        found = list(self.always)
        if query.local_name:
            low = query.local_name.lower().rstrip(".")
            found += self.exact.get(low, [])
            if "." in low:
                found += self.wild.get(low.split(".", 1)[1], [])
        unique = {id(f): f for f in found}
        return sorted(unique.values(), key=lambda f: f.order)


def merge(filters: list[Filter], query: Query, version: str) -> tuple[dict[str, Setting], dict[str, Filter]]:
    """The settings a lookup sees (only those set somewhere) and the filter each came from."""
    matching = [f for f in filters if f.matches(query)]
    values: dict[str, Setting] = {}
    origin: dict[str, Filter] = {}
    if version == "2.4":
        # the global settings, then every matching block in the order of the file, the later winning whatever
        # its kind or nesting (`local 127.0.0.0/8` after `local 127.0.0.1/32` wins, `protocol pop3` after
        # `local_name x { protocol pop3 }` wins); blocks with the same conditions are one block, placed where the
        # first stands. Checked by serving TLS from Dovecot 2.4.1 itself: `doveconf -f` answers differently
        # when nested and flat blocks both match (tests/oracle/test_dovecot24_oracle.py records where).
        for flt in sorted(matching, key=lambda f: f.order):
            for key, setting in flt.settings.items():
                values[key], origin[key] = setting, flt
        return values, origin
    matching.sort(key=lambda f: (tuple(-r for r in f.rank()), f.order))
    previous: Filter | None = None
    for flt in matching:
        check = previous is not None and not flt.is_superset_of(previous)
        for key, setting in flt.settings.items():
            if key in values:
                if check:
                    raise FilterConflictError(key, flt, origin[key], query)
                continue
            values[key], origin[key] = setting, flt
        previous = flt
    return values, origin


def parse_network(argument: str) -> Network | None:
    """A `local`/`remote` argument as a network; None for a host name (ValueError for a bad mask)."""
    try:
        return ipaddress.ip_network(argument, strict=False)
    except ValueError:
        if "/" in argument:
            raise
        return None
