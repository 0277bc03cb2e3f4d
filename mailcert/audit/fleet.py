"""Audit a fleet: every host's audit, at most `forks` at a time, with a progress line on a terminal."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from mailcert.audit import DEFAULT_FORKS
from mailcert.audit.host import AuditSettings, HostAudit, audit_host
from mailcert.inventory import InventoryHost
from mailcert.model import Status


def audit_fleet(
    hosts: Sequence[InventoryHost],
    settings: AuditSettings,
    *,
    forks: int = DEFAULT_FORKS,
    progress: TextIO | None = None,
) -> list[HostAudit]:
    """Every host's audit, in inventory order, at most `forks` at a time (each host costs the same however
    large the fleet). Progress goes to `progress` only when it is a terminal."""
    meter = _Progress(len(hosts), progress if progress is not None and is_tty(progress) else None)
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts) or 1))) as pool:
        futures = [pool.submit(_one, host, settings, meter) for host in hosts]
        results = [future.result() for future in futures]
    meter.finish()
    return results


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _one(host: InventoryHost, settings: AuditSettings, meter: _Progress) -> HostAudit:
    result = audit_host(host, settings)
    meter.done(failed=result.report.status is Status.UNKNOWN)
    return result


class _Progress:
    """`audit: 7/30 hosts done, 1 failed` on one terminal line, redrawn; nothing when not a terminal."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total, self.stream = total, stream
        self.finished = self.failed = 0
        self.lock = threading.Lock()
        self._draw()

    def done(self, *, failed: bool) -> None:
        with self.lock:
            self.finished += 1
            self.failed += int(failed)
            self._draw()

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _draw(self) -> None:
        if self.stream is None:
            return
        failed = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\r\x1b[Kaudit: {self.finished}/{self.total} hosts done{failed}")
        self.stream.flush()
