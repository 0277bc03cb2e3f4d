"""Probe many endpoints at once, politely: a thread pool across hosts, at most `per_host` connections per host."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from mailcert.ports import DEFAULT_EHLO, DEFAULT_PER_HOST
from mailcert.probe.result import ProbeResult, ProbeTarget, Timeouts
from mailcert.probe.session import probe_endpoint

DEFAULT_WORKERS = 16


def probe_all(
    targets: Sequence[ProbeTarget],
    *,
    ehlo_name: str = DEFAULT_EHLO,
    timeouts: Timeouts | None = None,
    per_host: int = DEFAULT_PER_HOST,
    workers: int = DEFAULT_WORKERS,
) -> list[ProbeResult]:
    """One ProbeResult per target, in the order given. A host is the address connected to."""
    if not targets:
        return []
    limits: dict[str, threading.BoundedSemaphore] = {
        target.connect_to.lower(): threading.BoundedSemaphore(max(1, per_host)) for target in targets
    }

    def one(target: ProbeTarget) -> ProbeResult:
        # Each endpoint probe opens its connections one after another, so holding one slot bounds the host.
        with limits[target.connect_to.lower()]:
            return probe_endpoint(target, ehlo_name=ehlo_name, timeouts=timeouts)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets)))) as pool:
        return list(pool.map(one, targets))
