"""Apply one host's plan: lock the host, run certbot, switch (on the host, detached), re-check, keep or restore.

Order per host: (1) INSTALL (certbot with the host's package manager, --install-certbot) and ISSUE changes —
certbot on the host; a failure stops there, nothing else changed;
(2) the switch — one payload to the host-side program, which backs up, writes atomically, validates,
reloads, and restores byte-identical on any failure by itself (it does not need our SSH session);
(3) re-probe and re-lint through `recheck`: a new critical finding (an endpoint that stopped answering is
one) → restore through the same program. An interruption (Ctrl-C, SIGTERM) is an Event checked between
steps: the switch in progress finishes on the host, then is restored.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from mailcert.errors import HostError, MailcertError
from mailcert.fix import remote
from mailcert.fix.acme import central
from mailcert.fix.acme.host import CertbotError, InstallError, run_certbot, run_install
from mailcert.fix.apply.payload import BEFORE_SWITCH, switch_payload, switches_anything
from mailcert.fix.edit.recipe import HiddenLineError, recipe
from mailcert.fix.endpoints import compared, regressions_line
from mailcert.fix.model import Change, ChangeKind, HostPlan, Outcome
from mailcert.fix.roles import RoleSet
from mailcert.inventory.model import InventoryHost, Refusal
from mailcert.model import Finding, HostReport, Severity
from mailcert.ssh import StrictConnection

RECONNECT_ATTEMPTS = 5


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by time and names itself: 20261123T181500Z-3f9a1c."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def state_dir_of(host: InventoryHost) -> str:
    """Where the host keeps mailcert's lock and run backups (`mailcert_state_dir`, default /var/lib/mailcert)."""
    if isinstance(host.fix.state_dir, Refusal):
        raise host.fix.state_dir.error()
    return host.fix.state_dir


@dataclass
class Interruption:
    """Set by the signal handler of the control side; per-host appliers look at it between steps."""

    event: threading.Event = field(default_factory=threading.Event)
    why: str = "interrupted on the control side (Ctrl-C or SIGTERM)"

    def set(self, why: str | None = None) -> None:
        if why:
            self.why = why
        self.event.set()

    @property
    def is_set(self) -> bool:
        return self.event.is_set()


@dataclass(frozen=True)
class HostApplied:
    """What apply did on one host: the plan with outcomes, the final switch status, the re-check's report,
    and earlier runs whose end nobody saw (said once, then marked as reported)."""

    plan: HostPlan
    status: remote.SwitchStatus | None = None
    after: HostReport | None = None
    message: str | None = None
    leftovers: tuple[remote.Leftover, ...] = ()
    lock_note: str | None = None
    recovered: tuple[remote.Leftover, ...] = ()  # earlier runs whose dead worker this run finished for it

    @property
    def changed(self) -> bool:
        return any(c.outcome is Outcome.APPLIED for c in self.plan.changes)


Connect = Callable[[InventoryHost], StrictConnection]
Recheck = Callable[[InventoryHost], HostReport]


def got_worse(before: HostReport, after: HostReport) -> str | None:
    """Why `after` is worse than `before`, or None: the host no longer checkable, any (port, name) a client
    judges worse than before (each one named), a new critical finding."""
    if after.error is not None:
        return f"the host could not be checked after the change: {after.error}"
    regressions = regressions_line(compared(before, after))
    new_finding = _new_critical(before, after)
    if regressions and new_finding:
        return f"{regressions}; {new_finding}"
    return regressions or new_finding


def _new_critical(before: HostReport, after: HostReport) -> str | None:

    def key(f: Finding) -> tuple[object, ...]:
        return (f.check, f.service, f.port, f.hostname)

    had = {key(f) for f in before.findings if f.severity is Severity.CRITICAL}
    new = [f for f in after.findings if f.severity is Severity.CRITICAL and key(f) not in had]
    if not new:
        return None
    first = new[0]
    where = ":".join(str(x) for x in (first.service, first.port) if x is not None)
    more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
    return f"new critical finding after the change: {first.check}{' on ' + where if where else ''}: {first.message}{more}"


def with_outcomes(
    plan: HostPlan,
    decide: Callable[[Change], tuple[Outcome, str | None] | None],
) -> HostPlan:
    changes = []
    for change in plan.changes:
        decided = decide(change)
        changes.append(change if decided is None else replace(change, outcome=decided[0], error=decided[1]))
    return replace(plan, changes=tuple(changes))


def _mark_switch(plan: HostPlan, outcome: Outcome, error: str | None) -> HostPlan:
    return with_outcomes(plan, lambda c: None if c.kind in BEFORE_SWITCH else (outcome, error))


def apply_host(
    host: InventoryHost,
    plan: HostPlan,
    *,
    run_id: str,
    before: HostReport,
    recheck: Recheck | None,
    connect: Connect = StrictConnection,
    interruption: Interruption | None = None,
    roles: RoleSet | None = None,
) -> HostApplied:
    """Carry out `plan` on `host` under the host lock; never raises for a host-side failure. `roles`: whose
    validate and reload commands the switch runs for services the plan touches (None: the packaged roles)."""
    interruption = interruption or Interruption()
    plan = replace(plan, run_id=run_id)
    if plan.empty and plan.error is not None:  # not planned (host unreachable in the audit): no connection
        return HostApplied(plan)
    refused = hidden_line_edit(plan)
    if refused is not None:  # before any connection: nothing of the plan is carried out
        why = refused.line()
        return HostApplied(_skip_all(plan, why), message=why)
    try:
        state_dir = state_dir_of(host)
        conn = connect(host)
    except MailcertError as exc:
        return HostApplied(_skip_all(plan, exc.line()), message=exc.line())
    if plan.empty:
        try:
            return _nothing_to_do(plan, conn, state_dir, run_id)
        except MailcertError as exc:
            return HostApplied(plan, message=f"could not read earlier runs' status: {exc.line()}")
        finally:
            conn.close()
    lock = remote.HostLock(conn, state_dir, run_id)
    try:
        said = lock.acquire()
        recovered = tuple(remote.recover(conn, state_dir, run_id))
        restored = [r for r in recovered if r.state != "applied"]
        olds = _earlier_runs(conn, state_dir, run_id)
        note = (
            f"took over the lock of run {said.split()[1]}, which ended without releasing it"
            if said.startswith("taken-over")
            else None
        )
        if restored:  # the plan was made from files that run had changed: it no longer fits the host
            why = (
                f"first restored unfinished run {restored[0].run_id} ({restored[0].state}: {restored[0].reason}); "
                "this plan was made before that — run mailcert fix again"
            )
            return HostApplied(
                _skip_all(plan, why), message=why, leftovers=tuple(olds), lock_note=note, recovered=recovered
            )
        result = _apply_locked(
            host, plan, conn, lock, state_dir, before, recheck, connect, interruption, roles
        )
        if result.status is not None and result.status.state == "interrupted":
            result = _recover_own(result, lock.conn, state_dir, run_id)
        remote.mark_reported(lock.conn, state_dir, run_id)  # we saw how it ended: not a leftover
        return replace(result, leftovers=tuple(olds), lock_note=note, recovered=recovered)
    except MailcertError as exc:
        return HostApplied(_fail_unfinished(plan, exc.line()), message=exc.line())
    finally:
        lock.release()
        lock.conn.close()
        conn.close()


def hidden_line_edit(plan: HostPlan) -> HiddenLineError | None:
    """The plan error of an edit that would change or delete a line whose value the gather hid, or None."""
    for change in plan.changes:
        f = change.file
        if change.kind is ChangeKind.EDIT and f is not None and f.before is not None:
            try:
                recipe(f.path, f.before, f.after)
            except HiddenLineError as exc:
                return HiddenLineError(exc.what, where=plan.host, todo=exc.todo)
    return None


def _nothing_to_do(plan: HostPlan, conn: StrictConnection, state_dir: str, run_id: str) -> HostApplied:
    """An empty plan: earlier runs' ends; a run whose worker died mid-switch is restored under the lock."""
    if any(o.state == "interrupted" for o in remote.leftovers(conn, state_dir)):
        lock = remote.HostLock(conn, state_dir, run_id)
        try:
            lock.acquire()
            recovered = tuple(remote.recover(conn, state_dir, run_id))
            restored = [r for r in recovered if r.state != "applied"]
            olds = _earlier_runs(conn, state_dir, run_id)
        finally:
            lock.release()
        message = (
            f"restored unfinished run {restored[0].run_id}: {restored[0].reason} — run mailcert fix again to "
            "plan from the restored files"
            if restored
            else None
        )
        return HostApplied(plan, leftovers=tuple(olds), message=message, recovered=recovered)
    return HostApplied(plan, leftovers=tuple(_earlier_runs(conn, state_dir, run_id)))


def _recover_own(result: HostApplied, conn: StrictConnection, state_dir: str, run_id: str) -> HostApplied:
    """This run's host-side worker died mid-switch: restore what it did (or record it done) right away."""
    mine = [r for r in remote.recover(conn, state_dir, run_id) if r.run_id == run_id]
    if not mine:
        return result
    status = remote.SwitchStatus(mine[0].state, mine[0].reason)
    outcome = {"applied": Outcome.APPLIED, "rolled-back": Outcome.ROLLED_BACK}.get(
        status.state, Outcome.FAILED
    )
    return replace(
        result, plan=_mark_switch(result.plan, outcome, status.reason), status=status, message=status.reason
    )


def _earlier_runs(conn: StrictConnection, state_dir: str, run_id: str) -> list[remote.Leftover]:
    """Runs whose end no control side saw (said once: each is marked as reported); live ones are left alone."""
    olds = [o for o in remote.leftovers(conn, state_dir) if o.run_id != run_id and o.state != "running"]
    for old in olds:
        remote.mark_reported(conn, state_dir, old.run_id)
    return olds


def _mark(plan: HostPlan, target: Change, outcome: Outcome, error: str | None) -> HostPlan:
    return with_outcomes(plan, lambda c: (outcome, error) if c is target else None)


def _certbot_failed(plan: HostPlan, failed: Change, why: str) -> HostPlan:
    def decide(change: Change) -> tuple[Outcome, str | None] | None:
        if change is failed:
            return Outcome.FAILED, why
        if change.outcome is Outcome.PLANNED:
            first = "installing certbot" if failed.kind is ChangeKind.INSTALL else "certbot"
            return Outcome.SKIPPED, f"not applied: {first} failed first"
        return None

    return with_outcomes(plan, decide)


def _skip_all(plan: HostPlan, why: str) -> HostPlan:
    return with_outcomes(plan, lambda c: (Outcome.SKIPPED, why))


def _fail_unfinished(plan: HostPlan, why: str) -> HostPlan:
    return with_outcomes(plan, lambda c: None if c.outcome is not Outcome.PLANNED else (Outcome.SKIPPED, why))


def _apply_locked(
    host: InventoryHost,
    plan: HostPlan,
    conn: StrictConnection,
    lock: remote.HostLock,
    state_dir: str,
    before: HostReport,
    recheck: Recheck | None,
    connect: Connect,
    interruption: Interruption,
    roles: RoleSet | None,
) -> HostApplied:
    for change in plan.changes:
        if change.kind not in (ChangeKind.INSTALL, ChangeKind.ISSUE) or change.command is None:
            continue
        if interruption.is_set:
            return HostApplied(_skip_all(plan, interruption.why), message=interruption.why)
        try:
            if change.kind is ChangeKind.INSTALL:
                run_install(conn, change.command)
            elif host.acme_mode == "central":  # certbot on this machine, the key stays on the host
                plan = central.issue(host, plan, change, conn, state_dir)
            else:
                run_certbot(conn, change.command, email=host.acme_email)
        except (CertbotError, InstallError) as exc:
            return HostApplied(_certbot_failed(plan, change, exc.what), message=exc.line())
        plan = _mark(plan, change, Outcome.APPLIED, None)
    if not switches_anything(plan):
        return HostApplied(plan, after=recheck(host) if recheck else None)
    if interruption.is_set:
        return HostApplied(_fail_unfinished(plan, interruption.why), message=interruption.why)
    payload = switch_payload(plan, roles)
    status, conn = _switch_surviving(host, conn, lock, state_dir, plan.run_id or "", payload, connect)
    if status.state != "applied":
        outcome = Outcome.ROLLED_BACK if status.state in ("rolled-back", remote.ABSENT) else Outcome.FAILED
        return HostApplied(_mark_switch(plan, outcome, status.reason), status, message=status.reason)
    if interruption.is_set:
        return _undo(host, plan, conn, state_dir, interruption.why, after=None)
    after = recheck(host) if recheck else None
    if interruption.is_set:  # Ctrl-C while re-checking: the run was not finished, so it is undone
        return _undo(host, plan, conn, state_dir, interruption.why, after=after)
    worse = got_worse(before, after) if after is not None else None
    if worse is not None:
        return _undo_worse(host, plan, conn, state_dir, worse, after)
    return HostApplied(_mark_switch(plan, Outcome.APPLIED, None), status, after=after)


def _undo_worse(
    host: InventoryHost,
    plan: HostPlan,
    conn: StrictConnection,
    state_dir: str,
    worse: str,
    after: HostReport | None,
) -> HostApplied:
    """Restore after a re-check found the host worse. A switch that only reloaded has nothing to restore (the
    host would say "rolled back", which is not true for the clients): the services now serve files changed
    outside mailcert, which only a person can put right. The planner's invariant is there to prevent this."""
    if any(c.kind is not ChangeKind.RELOAD for c in plan.changes if c.kind not in BEFORE_SWITCH):
        return _undo(host, plan, conn, state_dir, worse, after=after)
    why = (
        f"{worse}; nothing to restore: the switch wrote no file, its reloads made the services serve files "
        "changed outside mailcert — put good certificates in place and reload them by hand"
    )
    return HostApplied(_mark_switch(plan, Outcome.FAILED, why), after=after, message=why)


def _undo(
    host: InventoryHost,
    plan: HostPlan,
    conn: StrictConnection,
    state_dir: str,
    why: str,
    *,
    after: HostReport | None,
) -> HostApplied:
    status = remote.restore(conn, state_dir, plan.run_id or "", why)
    outcome = Outcome.ROLLED_BACK if status.state == "rolled-back" else Outcome.FAILED
    return HostApplied(
        _mark_switch(plan, outcome, status.reason or why), status, after=after, message=status.reason or why
    )


def _switch_surviving(
    host: InventoryHost,
    conn: StrictConnection,
    lock: remote.HostLock,
    state_dir: str,
    run_id: str,
    payload: str,
    connect: Connect,
) -> tuple[remote.SwitchStatus, StrictConnection]:
    """The switch; when the SSH session drops meanwhile, reconnect and wait for the host's own verdict."""
    try:
        return remote.switch(conn, state_dir, run_id, payload), conn
    except remote.SessionLostError as exc:
        lost: HostError = exc
    for attempt in range(RECONNECT_ATTEMPTS):
        time.sleep(min(2**attempt, 10) * 0.5)
        lock.release()
        conn.close()
        conn = connect(host)
        lock.conn = conn
        try:
            lock.acquire()
            status = remote.wait(conn, state_dir, run_id)
        except HostError as exc:
            lost = exc
            continue
        if status.state == remote.ABSENT:
            return remote.SwitchStatus(
                remote.ABSENT,
                f"the connection dropped before the switch started: {lost.what}; nothing was changed",
            ), conn
        return replace(
            status,
            reason=status.reason
            + " (the SSH session dropped during the switch; the host finished it on its own)",
        ), conn
    raise HostError(
        f"lost the connection during the switch and could not reconnect: {lost.what}",
        where=host.name,
        todo=f"the host finishes the switch by itself; the next run reports how run {run_id} ended",
    )
