"""Inventory hosts for tests, built by the loader's own build_host from the variables an inventory would hold."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mailcert.inventory.hostvars import build_host
from mailcert.inventory.model import InventoryHost, Where
from mailcert.inventory.raw import Var

WHERE = Where("inventory/host_vars/mx1.yml", 1)


def host_from_vars(
    variables: Mapping[str, object], *, name: str = "mx1", address: str = "127.0.0.1"
) -> InventoryHost:
    """The InventoryHost the loader builds for `name` from `variables` (all from one file of the inventory)."""
    merged = {"ansible_host": Var(address, WHERE), **{k: Var(v, WHERE) for k, v in variables.items()}}
    return build_host(name, merged, (), WHERE, Path("."))
