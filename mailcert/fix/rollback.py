"""`mailcert fix --rollback RUN-ID`: put back, on every selected host, the files that run changed there.

The host-side program restores from the run's backup (content, owner, mode), reloads what the run
reloaded and records the run as rolled back. A host the run never touched says so; nothing else changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailcert.errors import MailcertError, UsageError
from mailcert.fix import apply_remote as remote
from mailcert.fix.apply import Connect, state_dir_of
from mailcert.fix.remote import kept_runs
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
        status = remote.restore(conn, state_dir, run_id, f"rolled back by `mailcert fix --rollback {run_id}`")
        remote.mark_reported(conn, state_dir, run_id)
        return HostRollback(host.name, status.state, status.reason)
    except MailcertError as exc:
        if "has no backup on this host" in exc.what:
            return HostRollback(
                host.name,
                "not-found",
                f"no record of run {run_id} on this host: it changed nothing here, or it is older than the "
                f"newest {kept_runs()} runs the host keeps",
            )
        return HostRollback(host.name, "error", exc.line())
    finally:
        lock.release()
        conn.close()
