"""Ansible's INI inventory: `[group]` host lines with key=value, `[group:vars]`, `[group:children]`."""

from __future__ import annotations

import ast
import re
import shlex
from typing import Any

from mailcert.errors import InventoryError
from mailcert.inventory.model import Where
from mailcert.inventory.raw import RawInventory, Var, expand_host_range

_SECTION = re.compile(r"^\[([^\]:]+)(?::(vars|children))?\]\s*(?:[#;].*)?$")
_HOST_PORT = re.compile(r"^(?P<name>[^:\[\]]+|.*\[[^\]]*\][^:]*):(?P<port>[0-9]+)$")


def parse_ini_inventory(path: str, text: str, inventory: RawInventory) -> None:
    """Add the groups and hosts of an INI inventory to `inventory` (values on host lines are literals)."""
    section, kind = "ungrouped", "hosts"
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        where = Where(path, number)
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            match = _SECTION.match(line)
            if match is None:
                raise InventoryError(
                    f"bad section header {line!r}",
                    where=str(where),
                    todo="write [group], [group:vars] or [group:children]",
                )
            section, kind = match.group(1).strip(), match.group(2) or "hosts"
            inventory.group(section, where)
            if section != "all":
                inventory.add_child("all", section, where)
            continue
        if kind == "hosts":
            _host_line(line, where, section, inventory)
        elif kind == "vars":
            key, value = _assignment(line, where)
            inventory.group(section, where).vars[key] = Var(value, where)
        else:
            child = line.split()[0]
            inventory.add_child(section, child, where)


def _host_line(line: str, where: Where, group: str, inventory: RawInventory) -> None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise InventoryError(f"cannot split host line: {exc}", where=str(where)) from None
    if not words:
        return
    name, assignments = words[0], words[1:]
    host_vars: dict[str, Var] = {}
    port = _HOST_PORT.match(name)
    if port is not None and name.count(":") == 1:
        name = port.group("name")
        host_vars["ansible_port"] = Var(int(port.group("port")), where)
    for word in assignments:
        if "=" not in word:
            raise InventoryError(
                f"expected key=value after the host name, got {word!r}",
                where=str(where),
                todo="write host vars as name=value",
            )
        key, _, text = word.partition("=")
        host_vars[_key(key, where)] = Var(_literal(text), where)
    for host_name in expand_host_range(name, where):
        inventory.add_host(host_name, where, group).vars.update(host_vars)


def _assignment(line: str, where: Where) -> tuple[str, str]:
    if "=" not in line:
        raise InventoryError(f"expected key=value, got {line!r}", where=str(where))
    key, _, value = line.partition("=")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return _key(key.strip(), where), value


def _key(key: str, where: Where) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
        raise InventoryError(f"bad variable name {key!r}", where=str(where))
    return key


def _literal(text: str) -> Any:
    """Host-line values are Python literals where they parse as one (Ansible: `ansible_port=2222` is an int)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
