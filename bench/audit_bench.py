"""Fleet audit at scale: wall time, peak memory and SSH round trips per host for N lab hosts at several
--forks, all in one run. Each lab host runs its own sshd, Postfix and Dovecot; round trips are counted on
the hosts' side (sshd logs one line per exec request at LogLevel DEBUG1).

`python -m bench audit` (root; takes the machine's lab lock like the tests). Sizes: MAILCERT_BENCH_HOSTS
(default "10,30"), forks: MAILCERT_BENCH_FORKS (default "1,10").
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mailcert.lab import lifecycle

LOCK = Path("/run/mailcert-lab-tests.lock")


def _sizes(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).split(",") if x.strip()]


def _exec_requests(lab_dir: Path, host: str) -> int:
    log = lab_dir / "hosts" / host / "root" / "var/log/sshd.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count("request exec")


def _sessions(lab_dir: Path, host: str) -> int:
    log = lab_dir / "hosts" / host / "root" / "var/log/sshd.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count("Accepted publickey")


def main() -> None:
    if os.geteuid() != 0:
        print("audit bench: needs root (it brings up the lab)", file=sys.stderr)
        return
    rows = []
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for count in _sizes("MAILCERT_BENCH_HOSTS", "10,30"):
            with tempfile.TemporaryDirectory() as tmp:
                lab_dir = Path(tmp) / "lab"
                started = time.perf_counter()
                result = lifecycle.up(lab_dir, count, "none", say=lambda _: None)
                up_seconds = time.perf_counter() - started
                try:
                    for forks in _sizes("MAILCERT_BENCH_FORKS", "1,10"):
                        rows.append(
                            (
                                count,
                                forks,
                                up_seconds,
                                *_audit(lab_dir, [h.name for h in result.hosts], forks),
                            )
                        )
                finally:
                    lifecycle.down(lab_dir, say=lambda _: None)
    print("## audit: N lab hosts (sshd + Postfix + Dovecot each), all healthy, same run")
    print()
    print(
        "| hosts | forks | lab up | audit wall | per host | peak RSS (control side) | SSH sessions / exec requests per host | status |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for count, forks, up_s, wall, rss_mb, sessions, execs, status in rows:
        print(
            f"| {count} | {forks} | {up_s:.1f} s | {wall:.1f} s | {wall / count:.2f} s | {rss_mb:.0f} MB | "
            f"{sessions} / {execs} | {status} |"
        )
    by_size: dict[int, dict[int, float]] = {}
    for count, forks, _up, wall, *_rest in rows:
        by_size.setdefault(count, {})[forks] = wall
    for count, walls in by_size.items():
        if 1 in walls and len(walls) > 1:
            best = max(f for f in walls if f != 1)
            print(f"\n{count} hosts: forks {best} is {walls[1] / walls[best]:.1f}× faster than forks 1")


def _audit(lab_dir: Path, hosts: list[str], forks: int) -> tuple[float, float, str, str, str]:
    before = {h: (_sessions(lab_dir, h), _exec_requests(lab_dir, h)) for h in hosts}
    output = lab_dir / f"audit-{forks}.json"
    argv = [
        sys.executable,
        "-m",
        "mailcert",
        "-I",
        str(lab_dir / "inventory.yml"),
        "audit",
        "--forks",
        str(forks),
        "--format",
        "json",
        "--output",
        str(output),
    ]
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=False, timeout=3600)
    wall = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sessions = sorted({_sessions(lab_dir, h) - before[h][0] for h in hosts})
    execs = sorted({_exec_requests(lab_dir, h) - before[h][1] for h in hosts})
    status = json.loads(output.read_text())["status"] if output.exists() else "no report"
    return wall, rss_mb, "/".join(map(str, sessions)), "/".join(map(str, execs)), status
