"""The inventory as written (groups, hosts, variables with where each was set), before precedence is applied."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mailcert.errors import InventoryError
from mailcert.inventory.model import Where


@dataclass(frozen=True)
class Var:
    """A variable's value and where it was set."""

    value: Any
    where: Where


@dataclass
class RawGroup:
    name: str
    where: Where
    vars: dict[str, Var] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


@dataclass
class RawHost:
    name: str
    where: Where
    vars: dict[str, Var] = field(default_factory=dict)


@dataclass
class RawInventory:
    """Groups and hosts from one or more inventory sources; `all` and `ungrouped` always exist."""

    groups: dict[str, RawGroup] = field(default_factory=dict)
    hosts: dict[str, RawHost] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def group(self, name: str, where: Where) -> RawGroup:
        check_group_name(name, where)
        if name not in self.groups:
            self.groups[name] = RawGroup(name=name, where=where)
        return self.groups[name]

    def add_host(self, name: str, where: Where, group: str) -> RawHost:
        if not name or any(ch.isspace() for ch in name):
            raise InventoryError(
                f"bad host name {name!r}", where=str(where), todo="host names have no spaces"
            )
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = RawHost(name=name, where=where)
        members = self.group(group, where).hosts
        if name not in members:
            members.append(name)
        return host

    def add_child(self, parent: str, child: str, where: Where) -> None:
        self.group(child, where)
        children = self.group(parent, where).children
        if child not in children:
            children.append(child)


_GROUP_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def check_group_name(name: str, where: Where) -> None:
    if not _GROUP_NAME.match(name):
        raise InventoryError(
            f"bad group name {name!r}",
            where=str(where),
            todo="group names use letters, digits, '_', '-' and '.' only",
        )


_MAX_RANGE_HOSTS = 10000
_RANGE = re.compile(r"\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\]")


def expand_host_range(pattern: str, where: Where) -> list[str]:
    """`mail[01:03].example.com` → mail01, mail02, mail03 (Ansible's numeric and letter ranges)."""
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    start, end, step_text = match.group(1), match.group(2), match.group(3)
    step = int(step_text) if step_text and len(step_text) < 10 else (0 if step_text else 1)
    head, tail = pattern[: match.start()], pattern[match.end() :]
    if start.isdigit() != end.isdigit() or step < 1 or max(len(start), len(end)) > 9:
        raise InventoryError(
            f"bad host range in {pattern!r}", where=str(where), todo="write e.g. mail[01:09]"
        )
    numbers = (
        range(int(start), int(end) + 1, step) if start.isdigit() else range(ord(start), ord(end) + 1, step)
    )
    if not numbers or len(numbers) > _MAX_RANGE_HOSTS:  # counted before any name is made: [0:99999999999]
        raise InventoryError(
            f"bad host range in {pattern!r}", where=str(where), todo="write e.g. mail[01:09]"
        )
    width = len(start) if start.isdigit() and start.startswith("0") else 0
    values = [str(n).zfill(width) if start.isdigit() else chr(n) for n in numbers]
    names: list[str] = []
    for value in values:
        names += expand_host_range(head + value + tail, where)
        if len(names) > _MAX_RANGE_HOSTS:  # ranges multiply: h[0:999][0:999] would be a million hosts
            raise InventoryError(
                f"host range {pattern!r} makes more than {_MAX_RANGE_HOSTS} hosts",
                where=str(where),
                todo="split it into smaller ranges",
            )
    return names
