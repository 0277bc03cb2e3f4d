"""Ansible-compatible inventories read without Ansible: YAML or INI, group_vars/ and host_vars/, --limit.

inventory = load_inventory("inventory")          # file or folder
for host in inventory.select("mail:!mx3"):       # Ansible host patterns
    host.address, host.port, host.user, host.become_password  # Secret: masked repr
"""

from __future__ import annotations

from mailcert.inventory.loader import load_inventory
from mailcert.inventory.model import Inventory, InventoryHost, Secret, Where
from mailcert.inventory.patterns import select_hosts, split_pattern

__all__ = ["Inventory", "InventoryHost", "Secret", "Where", "load_inventory", "select_hosts", "split_pattern"]
