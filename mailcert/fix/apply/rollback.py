"""`mailcert fix --rollback RUN-ID`: put back, on every selected host, the files that run changed there.

The host-side program restores from the run's backup (content, owner, mode), reloads what the run
reloaded and records the run as rolled back. A host the run never touched says so; nothing else changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailcert.errors import MailcertError, UsageError
from mailcert.fix import remote
from mailcert.fix.apply.host import Connect, state_dir_of
from mailcert.inventory.model import InventoryHost
from mailcert.ssh import StrictConnection

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9T:._-]{0,80}$")


@dataclass(frozen=True)
class HostRollback:
    host: str
    state: str  # rolled-back | failed | not-found | error
    reason: str


def check_run_id(run_id: str) -> str:
    if not RUN_ID.match(run_id):
        raise UsageError(
            f"--rollback {run_id!r} is not a mailcert run id",
            todo="use the RUN-ID that `mailcert fix` printed, e.g. 20261123T181500Z-3f9a1c",
        )
    return run_id


def _recovered_note(recovered: list[remote.Leftover]) -> str:
    return "".join(f"; unfinished run {r.run_id} found and {r.state}: {r.reason}" for r in recovered)


def rollback_host(host: InventoryHost, run_id: str, *, connect: Connect = StrictConnection) -> HostRollback:
    """Restore what `run_id` changed on `host`; never raises for a host-side problem."""
    try:
        state_dir = state_dir_of(host)
        conn = connect(host)
    except MailcertError as exc:
        return HostRollback(host.name, "error", exc.line())
    lock = remote.HostLock(conn, state_dir, run_id)
    try:
        lock.acquire()
        # An earlier run whose host-side worker died mid-switch is restored first (this one, too).
        recovered = [r for r in remote.recover(conn, state_dir, run_id) if r.run_id != run_id]
        for earlier in recovered:  # said here: not again as a leftover by the next fix
            remote.mark_reported(conn, state_dir, earlier.run_id)
        status = remote.restore(conn, state_dir, run_id, f"rolled back by `mailcert fix --rollback {run_id}`")
        if status.state != remote.NOT_FOUND:  # set from apply.sh's exit status (EXIT_NO_RECORD)
            remote.mark_reported(conn, state_dir, run_id)
        return HostRollback(host.name, status.state, status.reason + _recovered_note(recovered))
    except MailcertError as exc:
        return HostRollback(host.name, "error", exc.line())
    finally:
        lock.release()
        conn.close()
