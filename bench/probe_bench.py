"""Probe speed per endpoint: mailcert's probe against `openssl s_client` on the same lab endpoints, same run.

Brings up a lab of 3 hosts (2 Postfix+Dovecot with planted faults, 1 healthy) under a temporary folder —
taking the machine's lab lock like the tests do — and times, for every host and all 7 mail ports:
  - mailcert in-process: `probe_endpoint` (dialogue, STARTTLS/implicit, chain capture) + `check_probe`
    (the full certificate verdict: trust path, names, expiry, usage);
  - mailcert CLI: `mailcert probe HOST:PORT --address ADDR --ca-bundle ...` as a fresh process;
  - `openssl s_client -connect ADDR:PORT -servername NAME [-starttls P] -CAfile ... -verify_hostname NAME`
    (one handshake + verification, no analysis): the floor.
Prints the median per endpoint and the ratios. Target from the probe issue: within 1.5× of openssl.
"""

from __future__ import annotations

import fcntl
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from mailcert.checks.certs import CheckOptions
from mailcert.checks.served import check_probe
from mailcert.lab import lifecycle
from mailcert.lab.layout import LabHost
from mailcert.pki.trust import TrustStore
from mailcert.probe import STANDARD_PORTS, ProbeTarget, probe_endpoint, target_for

ROUNDS = 5
LOCK = Path("/run/mailcert-lab-tests.lock")
STARTTLS = {"smtp": "smtp", "imap": "imap", "pop3": "pop3"}
PREFIX = {"smtp": "smtp", "imap": "imap", "pop3": "pop"}


def _median(times: list[float]) -> float:
    return statistics.median(times)


def _time_probe(target: ProbeTarget, opts: CheckOptions, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        check_probe(probe_endpoint(target), opts)
        times.append(time.perf_counter() - started)
    return _median(times)


def _time_command(argv: list[str], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(argv, input=b"", capture_output=True, check=False, timeout=60)
        times.append(time.perf_counter() - started)
    return _median(times)


def main() -> None:
    if os.geteuid() != 0:
        print("probe bench: needs root (it brings up the lab)", file=sys.stderr)
        return
    with LOCK.open("a") as lock, tempfile.TemporaryDirectory() as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lab_dir = Path(tmp) / "lab"
        result = lifecycle.up(lab_dir, 3, "mx1:leaf-only,mx2:stale", say=lambda _: None)
        try:
            run(result.hosts, lab_dir / "ca-bundle.pem")
        finally:
            lifecycle.down(lab_dir, say=lambda _: None)


def run(hosts: tuple[LabHost, ...], bundle: Path) -> None:
    opts = CheckOptions(now=datetime.now(UTC), trust=TrustStore.load([str(bundle)]))
    rows = []
    for host in hosts:
        for port, role in sorted(STANDARD_PORTS.items()):
            name = f"{PREFIX[role.protocol]}.{host.domain}"
            cli = [
                sys.executable,
                "-m",
                "mailcert",
                "probe",
                f"{name}:{port}",
                "--address",
                host.address,
                "--ca-bundle",
                str(bundle),
                "--format",
                "json",
            ]
            floor = [
                "openssl",
                "s_client",
                "-connect",
                f"{host.address}:{port}",
                "-servername",
                name,
                "-CAfile",
                str(bundle),
                "-verify_hostname",
                name,
                "-brief",
            ]
            if role.mode.value == "starttls":
                floor += ["-starttls", STARTTLS[role.protocol]]
            target = target_for(name, port, address=host.address)
            rows.append(
                (
                    f"{host.name}:{port}",
                    _time_probe(target, opts),
                    _time_command(cli, 3),
                    _time_command(floor),
                )
            )
    print("## probe: per-endpoint median wall time (3 lab hosts × 7 ports, same run)")
    print(
        f"{ROUNDS} rounds per endpoint (CLI: 3). Machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}"
    )
    print()
    print(
        "| endpoint | mailcert (in-process) | mailcert CLI (fresh process) | openssl s_client | in-process / openssl |"
    )
    print("|---|---|---|---|---|")
    for endpoint, inproc, cli, floor in rows:
        print(
            f"| {endpoint} | {inproc * 1000:.1f} ms | {cli * 1000:.0f} ms | {floor * 1000:.1f} ms | {inproc / floor:.2f}× |"
        )
    med = [statistics.median(col) for col in zip(*[r[1:] for r in rows], strict=True)]
    print(
        f"| **median** | {med[0] * 1000:.1f} ms | {med[1] * 1000:.0f} ms | {med[2] * 1000:.1f} ms | "
        f"{med[0] / med[2]:.2f}× (target ≤ 1.5×: {'met' if med[0] / med[2] <= 1.5 else 'MISSED'}); "
        f"CLI {med[1] / med[2]:.1f}× |"
    )
