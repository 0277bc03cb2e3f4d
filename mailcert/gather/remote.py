"""Gather one host over SSH: exactly one exec of the gather program, its document parsed into a GatheredHost."""

from __future__ import annotations

from mailcert.errors import HostError
from mailcert.gather.document import HEADER
from mailcert.gather.host import GatheredHost
from mailcert.gather.program import gather_argv
from mailcert.ssh import COMMAND_TIMEOUT, StrictConnection, sudo_error


def gather_host(
    conn: StrictConnection, *, root: str = "/", timeout: int = COMMAND_TIMEOUT, state_dir: str | None = None
) -> GatheredHost:
    """Run the gather program on the host (through sudo when the inventory says become) and parse it;
    `state_dir`: fix's state folder, looked at for runs whose host-side worker died."""
    host = conn.inventory_host
    assert host is not None
    output = conn.execute_as_root(gather_argv(root, state_dir), timeout=timeout)
    if HEADER not in output.stdout:
        refused = sudo_error(output, host)
        if refused is not None:
            raise refused
        first = next((ln.strip() for ln in output.stderr.splitlines() if ln.strip()), "")
        raise HostError(
            f"the gather program failed (exit {output.exit_status}){': ' + first[:200] if first else ''}",
            where=host.name,
            todo="check that /bin/sh, coreutils and openssl exist on the host",
        )
    return GatheredHost.from_output(output.stdout, name=host.name)
