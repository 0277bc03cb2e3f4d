"""Apply plans on many hosts at once, `forks` at a time, with Ctrl-C/SIGTERM turned into an orderly
interruption: every host finishes the switch it is in (on the host, detached), then restores it."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TextIO

from mailcert.fix.apply.host import Connect, HostApplied, Interruption, Recheck, apply_host
from mailcert.fix.model import HostPlan
from mailcert.fix.roles import RoleSet
from mailcert.inventory.model import InventoryHost
from mailcert.model import HostReport
from mailcert.ssh import StrictConnection


@dataclass(frozen=True)
class HostWork:
    """One host's part of a run: the host, its plan, and its report before the change."""

    host: InventoryHost
    plan: HostPlan
    before: HostReport
    roles: RoleSet | None = None  # whose validate/reload commands the switch runs (None: the packaged roles)


def apply_fleet(
    work: Sequence[HostWork],
    *,
    run_id: str,
    recheck: Recheck | None,
    forks: int,
    say: Callable[[str], None],
    connect: Connect = StrictConnection,
    interruption: Interruption | None = None,
) -> list[HostApplied]:
    """Every host's result, in order. SIGINT/SIGTERM (when called on the main thread) interrupt orderly."""
    interruption = interruption or Interruption()

    def one(item: HostWork) -> HostApplied:
        return apply_host(
            item.host,
            item.plan,
            run_id=run_id,
            before=item.before,
            recheck=recheck,
            connect=connect,
            interruption=interruption,
            roles=item.roles,
        )

    with (
        signals_interrupt(interruption, say),
        ThreadPoolExecutor(max_workers=max(1, min(forks, len(work) or 1))) as pool,
    ):
        futures = [pool.submit(one, item) for item in work]
        return [future.result() for future in futures]


@contextmanager
def signals_interrupt(interruption: Interruption, say: Callable[[str], None]) -> Iterator[None]:
    """SIGINT/SIGTERM set the interruption instead of killing the control side mid-switch."""

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        interruption.set(f"interrupted by {name}")
        say(f"fix: {name}: letting each host finish its switch, then restoring it — please wait")

    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (embedded use): the caller's handlers stay
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def printer(stream: TextIO) -> Callable[[str], None]:
    def say(line: str) -> None:
        print(line, file=stream, flush=True)

    return say
