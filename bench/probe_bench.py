"""Probe per endpoint: mailcert against openssl s_client, check_ssl_cert, testssl.sh and sslyze, on the same
lab endpoints in the same run — speed, and which planted faults each tool reports.

Brings up a lab of 5 hosts (taking the machine's lab lock like the tests, and taking the lab down after):
  mx1 healthy; mx2 `expired` (every port); mx3 `name-mismatch` (every port: the certificate names only
  mail.<domain>); mx4 `leaf-only` (Postfix: 25/465/587; its Dovecot ports stay healthy); mx5 `self-signed`
  (Dovecot: 143/993/110/995; its Postfix ports stay healthy). Every host's 7 mail ports are checked under
  the name clients use (smtp./imap./pop.<domain>; for mx5 mail.<domain>, the name its self-signed
  certificate carries, so that fault is not mixed with a name mismatch). Each endpoint is checked by:
  - mailcert in-process: `probe_endpoint` + `check_probe` (dialogue, STARTTLS/implicit, chain, the full
    certificate verdict);
  - `mailcert probe NAME:PORT --address ADDR --ca-bundle ...` as a fresh process, one per endpoint, and
    one call per host for its 7 ports (`--per-host 1`, so one connection at a time), per endpoint;
  - the peers in bench/peers.py, each a fresh process per endpoint, each trusting the lab CA.
Rounds are interleaved (round 1 of every tool on every endpoint, then round 2, ...) so machine load
hits every tool alike. Detection is read from every round; a tool whose answer changes between rounds is
marked.
"""

from __future__ import annotations

import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import mailcert
from bench import peers, startup_bench
from bench.peers import Endpoint, Verdict
from mailcert.checks.certs import CheckOptions
from mailcert.checks.served import check_probe
from mailcert.lab import LabError, lifecycle
from mailcert.lab.layout import LabHost
from mailcert.pki.trust import TrustStore
from mailcert.probe import STANDARD_PORTS, probe_endpoint, target_for

LOCK = Path("/run/mailcert-lab-tests.lock")
PREFIX = {"smtp": "smtp", "imap": "imap", "pop3": "pop"}
ALL_PORTS = tuple(sorted(STANDARD_PORTS))
QUICK_PORTS = (
    25,
    993,
)  # one Postfix STARTTLS, one Dovecot implicit: every planted fault shows on one of them
HOST_FAULTS: tuple[str | None, ...] = (None, "expired", "name-mismatch", "leaf-only", "self-signed")
SHOWS_ON = {  # which ports a planted fault reaches (mailcert/lab/faults.py)
    "expired": set(ALL_PORTS),
    "name-mismatch": set(ALL_PORTS),
    "leaf-only": {25, 465, 587},  # Postfix main.cf smtpd_tls_cert_file
    "self-signed": {110, 143, 993, 995},  # Dovecot ssl_cert
}
MAILCERT = "mailcert (in-process)"
MAILCERT_CLI = "mailcert CLI (a process per endpoint)"
MAILCERT_HOST = "mailcert CLI (one call per host, 7 ports, --per-host 1)"
OPENSSL = "openssl s_client"
ROUNDS_FULL = {
    MAILCERT: 5,
    MAILCERT_CLI: 3,
    MAILCERT_HOST: 3,
    OPENSSL: 5,
    "check_ssl_cert": 3,
    "sslyze": 3,
    "testssl.sh": 1,
}
ROUNDS_QUICK = {MAILCERT: 3, OPENSSL: 3}  # everything else 1
TIMEOUT = 180.0
# Speed targets from issue 10 (probe per endpoint).
TARGET_OPENSSL = 1.5
TARGET_HOST_CALL = 1.0  # issue 23
TARGET_SLOWER = 10.0


class BenchError(Exception):
    """The section cannot run here (not root, lab busy, ...): one line for the user."""


@dataclass
class Measured:
    times: dict[str, list[float]] = field(default_factory=dict)
    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)

    def add(self, label: str, seconds: float, verdict: Verdict | None) -> None:
        self.times.setdefault(label, []).append(seconds)
        if verdict is not None:
            self.verdicts.setdefault(label, []).append(verdict)


# ---------------------------------------------------------------- lab


@contextmanager
def lab(count: int, faults: str) -> Iterator[tuple[tuple[LabHost, ...], Path]]:
    """A lab under a temporary folder, with the machine's lab lock held until it is down again."""
    if os.geteuid() != 0:
        raise BenchError("needs root (it brings up the lab)")
    with LOCK.open("a") as lock, tempfile.TemporaryDirectory(prefix="mailcert-bench-") as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lab_dir = Path(tmp) / "lab"
        try:
            result = lifecycle.up(lab_dir, count, faults, say=lambda _: None)
        except LabError as exc:
            with suppress(LabError):
                lifecycle.down(lab_dir, say=lambda _: None)  # whatever half of ours was built
            raise BenchError(f"the lab did not start: {exc}") from None
        try:
            yield result.hosts, lab_dir / "ca-bundle.pem"
        finally:
            lifecycle.down(lab_dir, say=lambda _: None)


def endpoints_for(hosts: tuple[LabHost, ...], ports: tuple[int, ...]) -> list[Endpoint]:
    out = []
    for host, fault in zip(hosts, HOST_FAULTS, strict=True):
        for port in ports:
            role = STANDARD_PORTS[port]
            name = host.fqdn if fault == "self-signed" else f"{PREFIX[role.protocol]}.{host.domain}"
            here = fault if fault is not None and port in SHOWS_ON[fault] else None
            out.append(
                Endpoint(
                    host.name, host.address, port, name, role.protocol, role.mode.value == "starttls", here
                )
            )
    return out


def lab_faults() -> str:
    return ",".join(f"mx{i + 1}:{f}" for i, f in enumerate(HOST_FAULTS) if f is not None)


# ---------------------------------------------------------------- measuring one endpoint


def _timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str] | None]:
    started = time.perf_counter()
    try:
        done = subprocess.run(argv, input="", capture_output=True, text=True, check=False, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None
    return time.perf_counter() - started, done


def _read_and_remove(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    finally:
        path.unlink(missing_ok=True)


def run_peer(peer: peers.Peer, ep: Endpoint, *, bundle: Path, scratch: Path) -> tuple[float, Verdict]:
    scratch.unlink(missing_ok=True)
    argv = peer.argv(ep, bundle, scratch)
    if peer.no_dns:
        resolv = scratch.with_name("resolv.conf")
        if not resolv.exists():
            resolv.write_text(peers.NO_DNS_RESOLV)
        argv = peers.without_dns(argv, resolv)
    seconds, done = _timed(argv)
    text = _read_and_remove(scratch)
    if done is None:
        return seconds, Verdict(frozenset({peers.NO_TLS}), said=f"timed out after {TIMEOUT:.0f} s")
    return seconds, peer.parse(done.stdout, done.stderr, done.returncode, text)


def run_mailcert(ep: Endpoint, opts: CheckOptions) -> tuple[float, Verdict]:
    target = target_for(ep.name, ep.port, address=ep.address)
    started = time.perf_counter()
    findings = check_probe(probe_endpoint(target), opts)
    seconds = time.perf_counter() - started
    return seconds, peers.mailcert_verdict([f.check for f in findings])


def _cli_argv(targets: list[str], address: str, bundle: Path, extra: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "mailcert", "probe", *targets, "--address", address]
    return [*argv, "--ca-bundle", str(bundle), "--format", "json", *extra]


def cli_checks(report_json: str) -> dict[int, list[str]]:
    """Check IDs per port from `mailcert probe --format json`."""
    by_port: dict[int, list[str]] = {}
    report = json.loads(report_json)
    for host in report.get("hosts", []):
        for finding in host.get("findings", []):
            by_port.setdefault(int(finding.get("port") or 0), []).append(finding["check"])
    return by_port


def run_mailcert_cli(ep: Endpoint, bundle: Path) -> tuple[float, Verdict]:
    seconds, done = _timed(_cli_argv([f"{ep.name}:{ep.port}"], ep.address, bundle, []))
    if done is None:
        return seconds, Verdict(frozenset({peers.NO_TLS}), said="timed out")
    try:
        checks = cli_checks(done.stdout).get(ep.port, [])
    except (json.JSONDecodeError, KeyError, ValueError):
        return seconds, Verdict(frozenset(), other=(f"exit {done.returncode}, no JSON report",))
    return seconds, peers.mailcert_verdict(checks)


def run_mailcert_host(eps: list[Endpoint], bundle: Path) -> float:
    """One `mailcert probe` for all of a host's endpoints; seconds per endpoint."""
    targets = [f"{ep.name}:{ep.port}" for ep in eps]
    seconds, _done = _timed(_cli_argv(targets, eps[0].address, bundle, ["--per-host", "1"]))
    return seconds / len(eps)


# ---------------------------------------------------------------- the run


def startup_profile(runs: int = 3) -> dict[str, Any]:
    """Where a fresh `mailcert probe` process spends its time before probing: the wall time of
    `mailcert probe --help` (start-up and imports, no network), and the slowest top-level imports
    (`python -X importtime`, cumulative)."""
    argv = [sys.executable, "-m", "mailcert", "probe", "--help"]
    startup = statistics.median(_timed(argv)[0] for _ in range(runs)) * 1000
    imports = startup_bench.slowest_imports(argv[1:])
    return {
        "startup_ms": round(startup, 1),
        "slowest_imports_ms": [[n, ms] for n, ms in imports],
    }


def isolation_overhead_ms(scratch_dir: Path, runs: int = 5) -> float:
    """What peers.without_dns adds to each peer run: the same wrapper around `true`."""
    resolv = scratch_dir / "resolv.conf"
    resolv.write_text(peers.NO_DNS_RESOLV)
    return statistics.median(_timed(peers.without_dns(["true"], resolv))[0] for _ in range(runs)) * 1000


def measure(
    eps: list[Endpoint], bundle: Path, rounds: dict[str, int], scratch_dir: Path
) -> dict[str, Measured]:
    opts = CheckOptions(now=datetime.now(UTC), trust=TrustStore.load([str(bundle)]))
    runners: dict[str, Callable[[Endpoint], tuple[float, Verdict]]] = {
        MAILCERT: lambda ep: run_mailcert(ep, opts),
        MAILCERT_CLI: lambda ep: run_mailcert_cli(ep, bundle),
    }
    for peer in peers.PEERS:
        if peer.available():
            runners[peer.name] = partial(run_peer, peer, bundle=bundle, scratch=scratch_dir / "peer-output")
    results = {name: Measured() for name in [MAILCERT, MAILCERT_CLI, MAILCERT_HOST, *runners]}
    by_host: dict[str, list[Endpoint]] = {}
    for ep in eps:
        by_host.setdefault(ep.host, []).append(ep)
    for round_no in range(max(rounds.values())):
        for ep in eps:
            for name, runner in runners.items():
                if round_no < rounds.get(name, 1):
                    results[name].add(ep.label, *runner(ep))
        if round_no < rounds.get(MAILCERT_HOST, 1):
            for host_eps in by_host.values():
                per_endpoint = run_mailcert_host(host_eps, bundle)
                for ep in host_eps:
                    results[MAILCERT_HOST].add(ep.label, per_endpoint, None)
    return results


def _median_ms(measured: Measured) -> tuple[float, float, float]:
    per_endpoint = [statistics.median(t) * 1000 for t in measured.times.values()]
    return statistics.median(per_endpoint), min(per_endpoint), max(per_endpoint)


def summarise(eps: list[Endpoint], results: dict[str, Measured], rounds: dict[str, int]) -> dict[str, Any]:
    base = _median_ms(results[MAILCERT])[0]
    floor = _median_ms(results[OPENSSL])[0] if results.get(OPENSSL) and results[OPENSSL].times else None
    tools: dict[str, Any] = {}
    for name, measured in results.items():
        if not measured.times:
            continue
        median, low, high = _median_ms(measured)
        entry: dict[str, Any] = {
            "runs_per_endpoint": rounds.get(name, 1),
            "median_ms": round(median, 2),
            "min_endpoint_ms": round(low, 2),
            "max_endpoint_ms": round(high, 2),
            "times_to_mailcert": round(median / base, 2),
            "times_to_openssl": round(median / floor, 2) if floor else None,
            "per_endpoint_ms": {k: [round(s * 1000, 2) for s in v] for k, v in measured.times.items()},
        }
        if measured.verdicts:
            entry.update(_detection(eps, measured))
        tools[name] = entry
    return tools


def _detection(eps: list[Endpoint], measured: Measured) -> dict[str, Any]:
    by_fault: dict[str, dict[str, int]] = {}
    endpoints: dict[str, Any] = {}
    others: set[str] = set()
    for ep in eps:
        verdicts = measured.verdicts.get(ep.label, [])
        if not verdicts:
            continue
        first = verdicts[0]
        consistent = all(v.problems == first.problems for v in verdicts)
        # Scored on the first round; a changing answer is reported next to it.
        outcome = peers.score(ep.fault, first)
        key = ep.fault or "healthy"
        counts = by_fault.setdefault(key, {"endpoints": 0})
        counts["endpoints"] += 1
        counts[outcome] = counts.get(outcome, 0) + 1
        if not consistent:
            counts["changed_between_rounds"] = counts.get("changed_between_rounds", 0) + 1
        others.update(first.other)
        endpoints[ep.label] = {
            "fault": ep.fault,
            "problems": sorted(first.problems),
            "score": outcome,
            "said": first.said,
            "other": list(first.other),
            "consistent": consistent,
        }
    return {"detection": by_fault, "verdicts": endpoints, "other_complaints": sorted(others)}


# ---------------------------------------------------------------- report


def _cell(counts: dict[str, int] | None) -> str:
    if not counts:
        return "—"
    total = counts["endpoints"]
    if "hit" not in counts and "vague" not in counts and "other" not in counts and "miss" not in counts:
        alarms = counts.get("false-alarm", 0)
        return f"{alarms} of {total}" + (" ✔" if alarms == 0 else " ✘")
    hits = counts.get("hit", 0)
    text = f"{hits}/{total}" + (" ✔" if hits == total else "")
    notes = []
    if counts.get("vague"):
        notes.append(f"{counts['vague']} only as “untrusted”")
    if counts.get("other"):
        notes.append(f"{counts['other']} flagged for another reason")
    if counts.get("miss"):
        notes.append(f"{counts['miss']} not detected")
    if counts.get("changed_between_rounds"):
        notes.append(f"{counts['changed_between_rounds']} changed between rounds")
    return text + (f" ({'; '.join(notes)})" if notes else "")


FAULT_ROWS = (
    ("expired", "expired certificate"),
    ("name-mismatch", "name mismatch"),
    ("leaf-only", "leaf only (intermediate not served)"),
    ("self-signed", "self-signed"),
)


def markdown(data: dict[str, Any]) -> str:
    tools: dict[str, Any] = data["tools"]
    versions: dict[str, str] = data["versions"]
    eps: list[dict[str, Any]] = data["endpoints"]
    hosts = len({e["endpoint"].split(":")[0] for e in eps})
    ports = len({e["endpoint"].split(":")[1] for e in eps})
    lines = [
        f"## probe: mailcert and peer tools on {len(eps)} lab endpoints ({hosts} hosts × {ports} ports), same run",
        "",
        "Lab: mx1 healthy; mx2 expired (every port); mx3 name mismatch (every port); mx4 leaf only "
        "(Postfix 25/465/587, its Dovecot ports healthy); mx5 self-signed (Dovecot 110/143/993/995, checked "
        "as mail.<domain>, its Postfix ports healthy). Every tool trusts the lab CA bundle, connects to the "
        "lab address and sends the client's name as SNI; rounds are interleaved across tools. "
        "Median per endpoint = median over endpoints of each endpoint's median. "
        f"{', '.join(p.name for p in peers.PEERS if p.no_dns)} run inside `unshare --mount` with a loopback "
        "resolv.conf, so that no DNS query leaves the machine (testssl.sh otherwise looks up `invalid.` 30 "
        f"times per run, even with --nodns none); that wrapper costs {data['dns_isolation_overhead_ms']:.1f} ms "
        "per run (measured around `true`), included in their times.",
        "",
        "| tool | version | runs per endpoint | median per endpoint | range over endpoints | × mailcert (in-process) | × openssl s_client |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in tools.items():
        to_openssl = entry["times_to_openssl"]
        version = versions.get(name, versions.get(name.split()[0], ""))
        lines.append(
            f"| {name} | {version} | {entry['runs_per_endpoint']} | {entry['median_ms']:.1f} ms | "
            f"{entry['min_endpoint_ms']:.1f}–{entry['max_endpoint_ms']:.1f} ms | {entry['times_to_mailcert']:.2f}× | "
            + (f"{to_openssl:.2f}× |" if to_openssl is not None else "— |")
        )
    missing = [p.name for p in peers.PEERS if p.name not in tools]
    if missing:
        lines += [
            "",
            f"Not installed, not measured: {', '.join(missing)} (run `sh scripts/install-bench-deps`).",
        ]
    lines += ["", "Targets (issues 10 and 23):", ""]
    lines += [f"- {t['what']}: {t['value']} — **{t['verdict']}**" for t in data["targets"]]
    startup = data.get("cli_startup")
    if startup:
        slowest = ", ".join(f"{n} {ms:.0f} ms" for n, ms in startup["slowest_imports_ms"])
        lines += [
            "",
            f"Where a fresh `mailcert probe` process goes: `mailcert probe --help` alone (start-up and imports, "
            f"no network) takes {startup['startup_ms']:.0f} ms; slowest top-level imports (`python -X importtime`, "
            f"cumulative): {slowest}. The probe itself is the in-process row.",
        ]
    detected = [n for n, e in tools.items() if "detection" in e]
    lines += [
        "",
        "### Planted faults reported (endpoints where the tool named the fault / endpoints with that fault)",
        "",
        "| fault (endpoints) | " + " | ".join(detected) + " |",
        "|---|" + "---|" * len(detected),
    ]
    for key, label in FAULT_ROWS:
        total = next((tools[n]["detection"].get(key, {}).get("endpoints") for n in detected), None)
        if not total:
            continue
        cells = [_cell(tools[n]["detection"].get(key)) for n in detected]
        lines.append(f"| {label} ({total}) | " + " | ".join(cells) + " |")
    healthy = next((tools[n]["detection"].get("healthy", {}).get("endpoints") for n in detected), 0)
    cells = [_cell(tools[n]["detection"].get("healthy")) for n in detected]
    lines.append(f"| healthy: false alarms ({healthy}) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "“only as untrusted”: the tool said the chain does not verify without saying why (openssl: "
        "`unable to verify the first certificate`; sslyze: `candidates exhausted`). “flagged for another "
        "reason”: it reported a different problem on that endpoint and not the planted one.",
        "",
        "### What each tool said (first endpoint of each fault)",
        "",
        "| fault | endpoint | " + " | ".join(detected) + " |",
        "|---|---|" + "---|" * len(detected),
    ]
    for key, label in FAULT_ROWS:
        ep = next((e for e in eps if e["fault"] == key), None)
        if ep is None:
            continue
        said = [_said(tools[n]["verdicts"].get(ep["endpoint"], {})) for n in detected]
        lines.append(f"| {label} | {ep['endpoint']} | " + " | ".join(said) + " |")
    notes = [
        f"{n}: {'; '.join(tools[n]['other_complaints'])}" for n in detected if tools[n]["other_complaints"]
    ]
    if notes:
        lines += ["", "Other complaints (not planted, not counted):", ""] + [f"- {_md(n)}" for n in notes]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _said(verdict: dict[str, Any]) -> str:
    if not verdict:
        return "—"
    text = verdict["said"]
    return _md(text if len(text) <= 160 else text[:157] + "…")


def targets(tools: dict[str, Any]) -> list[dict[str, str]]:
    out = []

    def add(what: str, value: float, ok: bool, fmt: str = "{:.2f}×") -> None:
        out.append({"what": what, "value": fmt.format(value), "verdict": "met" if ok else "MISSED"})

    if OPENSSL in tools:
        ratio = tools[MAILCERT]["times_to_openssl"]
        add(
            f"{MAILCERT} within {TARGET_OPENSSL}× of openssl s_client",
            ratio,
            ratio <= TARGET_OPENSSL,
        )
        ratio = tools[MAILCERT_CLI]["times_to_openssl"]
        add(f"{MAILCERT_CLI} within {TARGET_OPENSSL}× of openssl s_client", ratio, ratio <= TARGET_OPENSSL)
        if MAILCERT_HOST in tools:  # issue 23: the host's 7 ports in one call, at most seven s_client runs
            ratio = tools[MAILCERT_HOST]["times_to_openssl"]
            add(
                f"{MAILCERT_HOST} within {TARGET_HOST_CALL}× of openssl s_client (one call against seven runs)",
                ratio,
                ratio <= TARGET_HOST_CALL,
            )
    for peer in ("check_ssl_cert", "testssl.sh"):
        if peer not in tools:
            out.append(
                {
                    "what": f"≥ {TARGET_SLOWER:.0f}× faster than {peer}",
                    "value": "—",
                    "verdict": "not measured",
                }
            )
            continue
        for mine in (MAILCERT, MAILCERT_CLI, MAILCERT_HOST):
            ratio = tools[peer]["median_ms"] / tools[mine]["median_ms"]
            add(
                f"{mine} ≥ {TARGET_SLOWER:.0f}× faster than {peer}",
                ratio,
                ratio >= TARGET_SLOWER,
                "{:.1f}× faster",
            )
    return out


def versions() -> dict[str, str]:
    found = {"mailcert": mailcert.__version__}
    for peer in peers.PEERS:
        found[peer.name] = peer.version() if peer.available() else "not installed"
    return found


def section(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """Run the probe benchmark; (Markdown, JSON-able data). Raises BenchError when it cannot run."""
    rounds = {name: ROUNDS_QUICK.get(name, 1) for name in ROUNDS_FULL} if quick else dict(ROUNDS_FULL)
    ports = QUICK_PORTS if quick else ALL_PORTS
    started = time.perf_counter()
    with lab(len(HOST_FAULTS), lab_faults()) as (hosts, bundle), tempfile.TemporaryDirectory() as scratch:
        eps = endpoints_for(hosts, ports)
        results = measure(eps, bundle, rounds, Path(scratch))
        overhead = isolation_overhead_ms(Path(scratch))
    tools = summarise(eps, results, rounds)
    data: dict[str, Any] = {
        "quick": quick,
        "cli_startup": startup_profile(),
        "dns_isolation_overhead_ms": round(overhead, 2),
        "seconds": round(time.perf_counter() - started, 1),
        "lab_faults": lab_faults(),
        "endpoints": [
            {
                "endpoint": e.label,
                "name": e.name,
                "mode": "starttls" if e.starttls else "implicit",
                "fault": e.fault,
            }
            for e in eps
        ],
        "versions": versions(),
        "tools": tools,
    }
    data["targets"] = targets(tools)
    return markdown(data), data


def main(quick: bool = False) -> None:
    try:
        text, _data = section(quick)
    except BenchError as exc:
        print(f"probe bench: {exc}", file=sys.stderr)
        return
    print(text)
