"""The gather program on a typical host: processes, host CPU and wall, against the gather before issue 23.

Both versions of mailcert/gather/gather.sh (this tree's, and the one before the light gather: PEER) run on
the same host tree — Debian's Postfix and Dovecot files, one certbot lineage with four names
(tests/gather_trees.typical_host) — mounted over this machine's /etc/postfix, /etc/dovecot and
/etc/letsencrypt in a private mount and PID namespace, so each runs as on a host (`sh` is dash, ROOT /).
Processes: successful execve under strace, the shell itself not counted. CPU: user + system time of the
namespace's processes, less that of the same namespace running `true`. Needs root.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.probe_bench import BenchError
from mailcert.gather.program import gather_argv

HERE = Path(__file__).resolve().parent
SCRIPT = "mailcert/gather/gather.sh"
MAX_PROCESSES = 60
MAX_CPU_S = 0.15
# Records that differ from run to run on the same host: the clock, boot time, processes, sockets, and /tmp
# (each run makes its scratch folder there).
VOLATILE = {("meta", "clock"), ("meta", "btime"), ("path", "/tmp")}
DAEMON_TOOLS = ("postconf", "doveconf", "dovecot", "exim", "exim4", "systemctl")


# The gather.sh before issue 23's light gather (main at 4c37c1e): the peer every later version is measured
# against in the same run. MAILCERT_BENCH_GATHER_PEER names another commit.
PEER = "4c37c1e"


def previous_script() -> tuple[str, str]:
    """(commit, text): the peer's gather.sh."""
    commit = os.environ.get("MAILCERT_BENCH_GATHER_PEER", PEER)
    return commit, _git("show", f"{commit}:{SCRIPT}")


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(HERE.parent), *args], capture_output=True, text=True, check=False, timeout=30
        )
    except OSError as exc:
        raise BenchError(f"git is needed to find the previous gather.sh: {exc}") from None
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)} failed: {done.stderr.strip()[:200]}")
    return done.stdout


def _raw_chunks(text: str) -> list[str]:
    """The document's records as printed, without those that change from run to run."""
    chunks: list[str] = []
    for line in text.split("\n"):
        if line.startswith("%R ") or not chunks:
            chunks.append(line)
        else:
            chunks[-1] += "\n" + line
    kept = []
    for chunk in chunks:
        lines = chunk.split("\n")
        if lines[0].startswith("%R "):
            kind = lines[0].split()[1]
            name = lines[1][3:] if len(lines) > 1 else ""
            if kind in ("proc", "proc-net") or (kind, name) in VOLATILE:
                continue
        kept.append(chunk)
    return kept


def _cpu(run: Any) -> tuple[float, float]:
    """(CPU seconds of the run's children, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def measure(tree: Path, script: str, rounds: int) -> dict[str, Any]:
    """Processes (by program), CPU and wall (medians over rounds, less the namespace's own), the output."""
    from tests.gather_trees import gathered_as_root  # the tree tools live with the tests

    argv = ["dash", "-c", script, *gather_argv("/")[3:]]
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace"
        strace = ["strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", str(trace)]
        done = gathered_as_root(tree, [*strace, *argv])
        if done.returncode != 0:
            raise BenchError(f"the gather failed under strace: {done.stderr.decode(errors='replace')[-300:]}")
        execs = [ln for ln in trace.read_text().splitlines() if "execve(" in ln and ln.endswith("= 0")][1:]
    programs = Counter(re.sub(r'.*execve\("(?:[^"]*/)?([^"/]*)".*', r"\1", ln) for ln in execs)
    baseline = [_cpu(lambda: gathered_as_root(tree, ["true"])) for _ in range(rounds)]
    outputs: list[bytes] = []
    runs = [_cpu(lambda: outputs.append(gathered_as_root(tree, argv).stdout)) for _ in range(rounds)]
    base_cpu = statistics.median(c for c, _ in baseline)
    base_wall = statistics.median(w for _, w in baseline)
    return {
        "processes": len(execs),
        "programs": dict(programs.most_common()),
        "cpu_s": round(max(0.0, statistics.median(c for c, _ in runs) - base_cpu), 3),
        "wall_s": round(max(0.0, statistics.median(w for _, w in runs) - base_wall), 3),
        "output": outputs[-1],
    }


def daemon_tools_cpu(tree: Path, rounds: int) -> float:
    """CPU of the daemons' own tools alone, as the gather runs them on this tree (the part no rewrite of
    gather.sh can save)."""
    from tests.gather_trees import gathered_as_root

    commands = "postconf -n; postconf -nx; postconf -M; postconf -Px; postconf -h mail_version; doveconf -n; "
    commands += "dovecot --version"
    argv = ["sh", "-c", f"{{ {commands}; }} >/dev/null 2>&1"]
    base = statistics.median(_cpu(lambda: gathered_as_root(tree, ["true"]))[0] for _ in range(rounds))
    tools = statistics.median(_cpu(lambda: gathered_as_root(tree, argv))[0] for _ in range(rounds))
    return round(max(0.0, tools - base), 3)


def section(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """(Markdown, JSON-able data); quick: 3 rounds instead of 9."""
    from tests.gather_trees import namespace_available, typical_host

    why = namespace_available()
    if why is not None:
        raise BenchError(why)
    if shutil.which("strace") is None:
        raise BenchError("strace is missing (scripts/install-system-deps installs it)")
    rounds = 3 if quick else 9
    commit, old_script = previous_script()
    new_script = (HERE.parent / SCRIPT).read_text()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        tree = Path(tmp) / "host"
        typical_host(tree)
        old = measure(tree, old_script, rounds)
        new = measure(tree, new_script, rounds)
        tools = daemon_tools_cpu(tree, rounds)
    identical = _raw_chunks(old["output"].decode("utf-8", "surrogateescape")) == _raw_chunks(
        new["output"].decode("utf-8", "surrogateescape")
    )
    met_processes = new["processes"] <= MAX_PROCESSES
    met_cpu = new["cpu_s"] <= MAX_CPU_S
    data: dict[str, Any] = {
        "quick": quick,
        "rounds": rounds,
        "previous_commit": commit,
        "host_cpus": os.cpu_count(),
        "old": {k: v for k, v in old.items() if k != "output"},
        "new": {k: v for k, v in new.items() if k != "output"},
        "daemon_tools_cpu_s": tools,
        "output_bytes": len(new["output"]),
        "output_identical": identical,
        "target_processes": MAX_PROCESSES,
        "target_cpu_s": MAX_CPU_S,
        "target_processes_met": met_processes,
        "target_cpu_met": met_cpu,
    }
    lines = [
        "## gather: one typical host (Postfix + Dovecot + a certbot lineage with 4 names), dash, ROOT /",
        "",
        "| gather.sh | processes | host CPU (user+sys) | wall | output |",
        "|---|---|---|---|---|",
        f"| before the light gather ({commit}) | {old['processes']} | {old['cpu_s']:.3f} s | {old['wall_s']:.3f} s | "
        f"{len(old['output']):,} bytes |",
        f"| this tree | {new['processes']} | {new['cpu_s']:.3f} s | {new['wall_s']:.3f} s | "
        f"{len(new['output']):,} bytes |",
        "",
        f"- ≤ {MAX_PROCESSES} processes — {'met' if met_processes else 'MISSED'} ({new['processes']})",
        f"- ≤ {MAX_CPU_S:.2f} s CPU — {'met' if met_cpu else 'MISSED'} ({new['cpu_s']:.3f} s)",
        f"- output byte-identical — {'yes' if identical else 'no'} (records that change from run to run left "
        "out: clock, boot time, processes, sockets, /tmp)",
        "",
        f"Medians of {rounds} runs, each less a run of `true` in the same namespace. Processes by program, "
        "this tree: " + ", ".join(f"{name} {n}" for name, n in new["programs"].items()) + ".",
    ]
    if not met_cpu:
        lines += [
            "",
            f"Target missed; where the CPU goes: the daemons' own tools (5 postconf, doveconf, dovecot "
            f"--version, run alone) take {tools:.3f} s of the {new['cpu_s']:.3f} s; the rest is the "
            f"{new['processes'] - sum(new['programs'].get(t, 0) for t in DAEMON_TOOLS)} other processes' "
            "start-up (fork/exec, about 1 ms of system time each), the shell, and the awk that reads and "
            "encodes the files.",
        ]
    return "\n".join(lines) + "\n", data


def main(quick: bool = False) -> None:
    print(section(quick)[0])
