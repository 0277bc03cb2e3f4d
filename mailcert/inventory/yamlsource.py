"""Ansible's YAML inventory (`all:` / `hosts:` / `children:` / `vars:`) and YAML variable files, with line numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mailcert.errors import InventoryError
from mailcert.inventory.model import Where
from mailcert.inventory.raw import RawInventory, Var, expand_host_range

MAX_INVENTORY_BYTES = 8 * 1024 * 1024
_GROUP_KEYS = ("hosts", "vars", "children")


class YamlDocument:
    """One YAML file composed into nodes (so every value keeps its line) plus a constructor for values."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        try:  # the reader refuses control characters in the constructor already (ReaderError)
            self._loader = yaml.SafeLoader(text)
            self.root: yaml.Node | None = self._loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise InventoryError(_yaml_problem(exc), where=self._mark_where(exc.problem_mark)) from None
        except yaml.YAMLError as exc:
            raise InventoryError(f"not valid YAML: {exc}", where=str(path)) from None

    def where(self, node: yaml.Node) -> Where:
        return Where(str(self.path), node.start_mark.line + 1)

    def _mark_where(self, mark: Any) -> str:
        return f"{self.path}:{mark.line + 1}" if mark is not None else str(self.path)

    def value(self, node: yaml.Node) -> Any:
        """The plain Python value of a node (vault and other tags refused with their line)."""
        _refuse_tags(self, node)
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise InventoryError(_yaml_problem(exc), where=self._mark_where(exc.problem_mark)) from None

    def mapping(self, node: yaml.Node | None, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping node; None (an empty YAML value) is an empty mapping."""
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
            return []
        if not isinstance(node, yaml.MappingNode):
            raise InventoryError(f"{what} must be a mapping (name: value)", where=str(self.where(node)))
        seen: set[str] = set()
        items: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise InventoryError(f"{what}: keys must be plain names", where=str(self.where(key_node)))
            key = str(key_node.value)
            if key in seen:
                raise InventoryError(
                    f"{what}: {key!r} is defined twice", where=str(self.where(key_node)), todo="keep one"
                )
            seen.add(key)
            items.append((key, key_node, value_node))
        return items

    def variables(self, node: yaml.Node | None, what: str) -> dict[str, Var]:
        return {
            key: Var(self.value(value_node), self.where(key_node))
            for key, key_node, value_node in self.mapping(node, what)
        }


def _refuse_tags(doc: YamlDocument, node: yaml.Node) -> None:
    if node.tag in ("!vault", "!unsafe") or (node.tag.startswith("!") and not node.tag.startswith("!!")):
        raise InventoryError(
            f"YAML tag {node.tag} is not supported",
            where=str(doc.where(node)),
            todo="mailcert reads inventories without Ansible: give the value in clear (vault is not supported)",
        )
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _refuse_tags(doc, key_node)
            _refuse_tags(doc, value_node)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_tags(doc, item)


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "invalid YAML"
    if exc.context:
        problem = f"{exc.context}, {problem}"
    return f"not valid YAML: {problem}"


def read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_INVENTORY_BYTES:
            raise InventoryError("file is too large for an inventory", where=str(path))
        data = path.read_bytes()
    except OSError as exc:
        raise InventoryError(f"cannot read: {exc.strerror or exc}", where=str(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InventoryError("not UTF-8 text", where=str(path), todo="save the file as UTF-8") from None


def parse_yaml_inventory(doc: YamlDocument, inventory: RawInventory) -> None:
    """Add the groups and hosts of a YAML inventory document to `inventory`."""
    for name, key_node, group_node in doc.mapping(doc.root, "the inventory"):
        _parse_group(doc, inventory, name, key_node, group_node, parents=())
        if name != "all":
            inventory.add_child("all", name, doc.where(key_node))


def _parse_group(
    doc: YamlDocument,
    inventory: RawInventory,
    name: str,
    key_node: yaml.Node,
    node: yaml.Node,
    parents: tuple[str, ...],
) -> None:
    where = doc.where(key_node)
    if name in parents:
        raise InventoryError(f"group {name!r} contains itself", where=str(where))
    group = inventory.group(name, where)
    for key, sub_key_node, value_node in doc.mapping(node, f"group {name}"):
        if key not in _GROUP_KEYS:
            raise InventoryError(
                f"group {name}: unexpected key {key!r}",
                where=str(doc.where(sub_key_node)),
                todo="a group holds only hosts:, vars: and children: (a host goes under hosts:)",
            )
        if key == "vars":
            group.vars.update(doc.variables(value_node, f"vars of group {name}"))
        elif key == "hosts":
            for host_pattern, host_key_node, host_node in doc.mapping(value_node, f"hosts of group {name}"):
                host_where = doc.where(host_key_node)
                host_vars = doc.variables(host_node, f"host {host_pattern}")
                for host_name in expand_host_range(host_pattern, host_where):
                    inventory.add_host(host_name, host_where, name).vars.update(host_vars)
        else:
            for child, child_key_node, child_node in doc.mapping(value_node, f"children of group {name}"):
                inventory.add_child(name, child, doc.where(child_key_node))
                _parse_group(doc, inventory, child, child_key_node, child_node, (*parents, name))


def looks_like_yaml_inventory(doc: YamlDocument) -> bool:
    return isinstance(doc.root, yaml.MappingNode)
