"""Probe many endpoints at once, politely: a thread pool across hosts, at most `per_host` connections per host."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from mailcert.ports import DEFAULT_EHLO, DEFAULT_PER_HOST
from mailcert.probe.result import ProbeResult, ProbeTarget, Timeouts
from mailcert.probe.session import probe_endpoint

DEFAULT_WORKERS = 16

_Key = tuple[str, int, str | None, object, str]


class ProbeMemo:
    """One audit's probe results by what decides them: the name sent as SNI, the port, the protocol and mode
    tried first, and the address connected to. A host's own probe and its domains' DNS (MX, SRV) mostly name
    the same endpoints; each is connected to once. Keep one per audit of a host: after a change (fix) the
    endpoints must be probed again."""

    def __init__(self) -> None:
        self._results: dict[_Key, ProbeResult] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(target: ProbeTarget) -> _Key:
        return (
            target.hostname.lower(),
            target.port,
            target.protocol,
            target.expected_mode,
            target.connect_to.lower(),
        )

    def get(self, target: ProbeTarget) -> ProbeResult | None:
        """The result an identical probe got, labelled as this target (its service, whether it is required)."""
        with self._lock:
            found = self._results.get(self._key(target))
        if found is None:
            return None
        return replace(
            found,
            hostname=target.hostname,
            address=target.address,
            service=target.service,
            required=target.required,
        )

    def put(self, target: ProbeTarget, result: ProbeResult) -> None:
        with self._lock:
            self._results.setdefault(self._key(target), result)


def probe_all(
    targets: Sequence[ProbeTarget],
    *,
    ehlo_name: str = DEFAULT_EHLO,
    timeouts: Timeouts | None = None,
    per_host: int = DEFAULT_PER_HOST,
    workers: int = DEFAULT_WORKERS,
    memo: ProbeMemo | None = None,
) -> list[ProbeResult]:
    """One ProbeResult per target, in the order given. A host is the address connected to. With `memo`, a
    target probed before (same name, port, protocol, mode, address) is not connected to again."""
    if not targets:
        return []
    limits: dict[str, threading.BoundedSemaphore] = {
        target.connect_to.lower(): threading.BoundedSemaphore(max(1, per_host)) for target in targets
    }

    def one(target: ProbeTarget) -> ProbeResult:
        known = memo.get(target) if memo is not None else None
        if known is not None:
            return known
        # Each endpoint probe opens its connections one after another, so holding one slot bounds the host.
        with limits[target.connect_to.lower()]:
            result = probe_endpoint(target, ehlo_name=ehlo_name, timeouts=timeouts)
        if memo is not None:
            memo.put(target, result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets)))) as pool:
        return list(pool.map(one, targets))
