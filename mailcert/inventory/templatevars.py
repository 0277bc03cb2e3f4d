"""A host's variables as an Ansible template sees them (review --vars-from renders a tree's `*.j2` with them).

The one reader of the raw merged variables outside hostvars.py, for the one consumer that needs them all:
Jinja2 templates may use any variable the inventory defines. Secrets stay masked.
"""

from __future__ import annotations

from typing import Any

from mailcert.inventory.model import InventoryHost, Secret

MASKED = "********"


def template_vars(host: InventoryHost) -> dict[str, Any]:
    """The host's merged variables (secrets masked), plus inventory_hostname and inventory_hostname_short."""
    values = {k: (MASKED if isinstance(v, Secret) else v) for k, v in host.vars.items()}
    return {**values, "inventory_hostname": host.name, "inventory_hostname_short": host.name.split(".")[0]}
