"""Read an inventory file or folder, apply Ansible's variable precedence, and type every host."""

from __future__ import annotations

from pathlib import Path

from mailcert.errors import InventoryError
from mailcert.inventory.hostvars import build_host
from mailcert.inventory.inisource import parse_ini_inventory
from mailcert.inventory.model import Inventory, InventoryHost, Where
from mailcert.inventory.raw import RawInventory, Var
from mailcert.inventory.varfiles import vars_for
from mailcert.inventory.yamlsource import (
    YamlDocument,
    looks_like_yaml_inventory,
    parse_yaml_inventory,
    read_text,
)

_YAML_SUFFIXES = (".yml", ".yaml", ".json")
_SKIPPED_SUFFIXES = (".md", ".txt", ".pem", ".key", ".crt", ".retry", ".orig", ".bak", ".cfg", ".pub")


def load_inventory(path: str | Path) -> Inventory:
    """An inventory from a file (YAML or INI) or a folder of them, with group_vars/ and host_vars/ beside it."""
    source = Path(path).expanduser()
    if source.is_dir():
        base = source
        files = sorted(p for p in source.iterdir() if _is_inventory_file(p))
        if not files:
            raise InventoryError(
                "no inventory file in this folder",
                where=str(source),
                todo="add hosts.yml (all: hosts: ...) or hosts.ini, or give the file with -I",
            )
    elif source.is_file():
        base, files = source.parent, [source]
    else:
        raise InventoryError(
            "inventory not found", where=str(source), todo="give an inventory file or folder with -I PATH"
        )
    raw = RawInventory()
    raw.group("all", Where(str(files[0])))
    raw.group("ungrouped", Where(str(files[0])))
    for file in files:
        _parse_file(file, raw)
    return resolve(raw, base)


def _is_inventory_file(path: Path) -> bool:
    if not path.is_file() or path.name.startswith((".", "~")) or path.name.endswith("~"):
        return False
    return path.suffix.lower() not in _SKIPPED_SUFFIXES


def _parse_file(path: Path, raw: RawInventory) -> None:
    text = read_text(path)
    raw.sources.append(str(path))
    first = next(
        (ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), ""
    )
    if path.suffix.lower() == ".ini" or (path.suffix.lower() not in _YAML_SUFFIXES and first.startswith("[")):
        parse_ini_inventory(str(path), text, raw)
        return
    if path.suffix.lower() in _YAML_SUFFIXES:
        doc = YamlDocument(path, text)
    else:
        try:
            doc = YamlDocument(path, text)
        except InventoryError:
            parse_ini_inventory(str(path), text, raw)
            return
        if not looks_like_yaml_inventory(doc):
            parse_ini_inventory(str(path), text, raw)
            return
    parse_yaml_inventory(doc, raw)


def resolve(raw: RawInventory, base: Path) -> Inventory:
    """Apply precedence (all < groups by depth then name < host; files beside the inventory win at each
    level) and build typed hosts in inventory order."""
    _attach_orphans(raw)
    depth = _depths(raw)
    members = _members(raw)
    group_vars_dir, host_vars_dir = base / "group_vars", base / "host_vars"
    file_group_vars = {name: vars_for(group_vars_dir, name) for name in raw.groups}
    hosts: list[InventoryHost] = []
    for name, raw_host in raw.hosts.items():
        groups = sorted((g for g, hs in members.items() if name in hs), key=lambda g: (depth[g], g))
        merged: dict[str, Var] = {}
        # Ansible: inventory-file group vars, then group_vars/ files, each in group order, then the host.
        for group in groups:
            merged.update(raw.groups[group].vars)
        for group in groups:
            merged.update(file_group_vars[group])
        merged.update(raw_host.vars)
        merged.update(vars_for(host_vars_dir, name))
        visible = tuple(g for g in groups if g not in ("all",))
        hosts.append(build_host(name, merged, visible, raw_host.where, base))
    if not hosts:
        raise InventoryError(
            "the inventory lists no hosts",
            where=", ".join(raw.sources),
            todo="add hosts under all: hosts: (YAML) or a [group] section (INI)",
        )
    return Inventory(
        hosts=tuple(hosts),
        groups={g: tuple(h for h in raw.hosts if h in hs) for g, hs in members.items()},
        sources=tuple(raw.sources),
    )


def _attach_orphans(raw: RawInventory) -> None:
    children = {c for g in raw.groups.values() for c in g.children}
    for name, group in list(raw.groups.items()):
        if name != "all" and name not in children:
            raw.add_child("all", name, group.where)
    in_a_group = {h for name, g in raw.groups.items() if name not in ("all", "ungrouped") for h in g.hosts}
    raw.groups["ungrouped"].hosts[:] = [h for h in raw.hosts if h not in in_a_group]


def _depths(raw: RawInventory) -> dict[str, int]:
    """Each group's depth below `all` (longest path), refusing cycles."""
    depth: dict[str, int] = {}

    def visit(name: str, level: int, path: tuple[str, ...]) -> None:
        if name in path:
            raise InventoryError(
                f"groups form a loop: {' → '.join((*path, name))}",
                where=str(raw.groups[name].where),
                todo="a group cannot be its own child",
            )
        if depth.get(name, -1) >= level:
            return
        depth[name] = level
        for child in raw.groups[name].children:
            visit(child, level + 1, (*path, name))

    visit("all", 0, ())
    for name, group in raw.groups.items():
        if name not in depth:  # only children, never reached from `all`: a loop among them
            raise InventoryError(
                f"group {name} is part of a loop of groups",
                where=str(group.where),
                todo="a group cannot be its own child",
            )
    return depth


def _members(raw: RawInventory) -> dict[str, set[str]]:
    """Each group's hosts including those of its children; `all` holds every host."""
    cache: dict[str, set[str]] = {}

    def hosts_of(name: str) -> set[str]:
        if name not in cache:
            cache[name] = set(raw.groups[name].hosts)
            for child in raw.groups[name].children:
                cache[name] |= hosts_of(child)
        return cache[name]

    result = {name: hosts_of(name) for name in raw.groups}
    result["all"] = set(raw.hosts)
    return result
