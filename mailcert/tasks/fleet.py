"""What the fleet tasks (audit, fix, verify) share on the command line: SPEC's upper-case short flags,
whole-number options, the prompted sudo password, and whether a stream is a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailcert.audit import DEFAULT_FORKS as DEFAULT_FORKS
from mailcert.errors import UsageError

# The stages are imported inside the functions that use them: `mailcert TASK --help` and the start of a
# command import only these declarations (issue 23).
if TYPE_CHECKING:
    from invoke.context import Context

    from mailcert.inventory import InventoryHost, Secret

DEFAULT_INVENTORY = "inventory"

FLEET_HELP = {
    "inventory": f"Ansible-style inventory file or folder (default ./{DEFAULT_INVENTORY})",
    "limit": "only hosts matching this pattern: names, groups, a:b, !x, &y, mail*",
    # Here, not beside the code in mailcert.inventory.shard: importing that package reads YAML and more,
    # which `mailcert TASK --help` has no use for (issue 23).
    "shard": "K/N: only the K-th of N stable shards of the selected hosts (K counts from 1; a host's shard is "
    "the SHA-256 of its inventory name modulo N, applied after --limit)",
}
TIMEOUT_HELP = {"timeout": "seconds to wait for SSH connect, banner and auth (default 10)"}

# Short flags Invoke cannot derive itself (it only makes lower-case ones): SPEC's -I, and fix's -y; the fleet
# tasks declare them (mailcert.tasks.declare.task(short=...)).
SHORT_FLAGS = {"inventory": "I", "yes": "y"}


def positive_whole(value: str | int, flag: str) -> int:
    """`--forks 10` and the like: a whole number of at least 1, or one clear usage error."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise UsageError(f"{flag} {value!r} is not a positive whole number", todo=f"write e.g. {flag} 10")
    return number


def prompted_sudo_password(c: Context) -> Secret | None:
    """The --prompt-for-sudo-password answer (or MAILCERT_SUDO_PASSWORD; FABRIC_SUDO_PASSWORD under fab), masked."""
    from mailcert.inventory import Secret

    sudo = c.config.get("sudo") if hasattr(c, "config") else None
    password = sudo.get("password") if sudo is not None else None
    return Secret(password) if isinstance(password, str) and password else None


def fleet_hosts(
    c: Context, inventory: str | None, limit: str | None, shard: str | None = None
) -> list[InventoryHost]:
    """The hosts a fleet task works on: `TASK -I PATH`, else the global `mailcert -I PATH`, else
    ./inventory, narrowed by --limit, then by --shard K/N."""
    from mailcert.audit.options import checked_roles
    from mailcert.inventory import load_inventory
    from mailcert.inventory.shard import parse_shard, select_shard

    wanted = parse_shard(shard) if shard is not None else None  # a bad --shard stops before the inventory
    configured = c.config.get("inventory") if hasattr(c, "config") else None
    selected = load_inventory(inventory or configured or DEFAULT_INVENTORY).select(limit)
    for host in selected:  # every shard refuses the same bad inventory, not only the shard holding the host
        checked_roles(host)  # an unknown mailcert_roles name stops the run before any host, at its line
    return select_shard(selected, wanted)
