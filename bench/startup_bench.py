"""Start-up of a fresh `mailcert` process: the commands that never connect over SSH (lint, explain, probe)
against the audit, with the interpreter's own start and `openssl version` measured in the same run.

Targets from issue 23: `mailcert lint|explain|probe --help` ≤ 150 ms wall, `mailcert audit --help` ≤ 300 ms
(median of fresh processes). Where a target is missed the section lists the slowest imports of that command.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

RUNS_FULL = 15
RUNS_QUICK = 3

PYTHON_FLOOR = "python3 -c pass"
OPENSSL = "openssl version"


def _mailcert() -> list[str]:
    """The console script beside this interpreter (what users run), else `python -m mailcert`."""
    script = Path(sys.executable).with_name("mailcert")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mailcert"]


def commands() -> list[tuple[str, list[str], float | None]]:
    """(label, argv, target in ms or None): mailcert's commands, then the peers."""
    mailcert = _mailcert()
    rows: list[tuple[str, list[str], float | None]] = [
        ("mailcert lint --help", [*mailcert, "lint", "--help"], 150.0),
        ("mailcert explain --help", [*mailcert, "explain", "--help"], 150.0),
        ("mailcert probe --help", [*mailcert, "probe", "--help"], 150.0),
        ("mailcert audit --help", [*mailcert, "audit", "--help"], 300.0),
        ("mailcert --version", [*mailcert, "--version"], None),
        (PYTHON_FLOOR, [sys.executable, "-c", "pass"], None),
    ]
    if shutil.which("openssl"):
        rows.append((OPENSSL, ["openssl", "version"], None))
    return rows


def _wall(argv: list[str]) -> float:
    """Wall seconds of one run. The wait blocks in waitpid: with a timeout, Popen.wait polls with sleeps of
    up to 50 ms and so added up to 50 ms to a run (medians fell on 64, 114, 164 ms...). A timer kills a
    run that hangs instead."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        process.wait()
    finally:
        watchdog.cancel()
    return time.perf_counter() - started


def slowest_imports(argv: list[str], top: int = 6) -> list[tuple[str, float]]:
    """The slowest top-level imports (ms, cumulative) of `python -X importtime` running `argv` (a
    `python -m ...` or `python -c ...` command line without the interpreter)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, check=False, timeout=60
    )
    imports = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        # "import time: self [us] | cumulative | imported package"; top-level imports are indented by one space
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            imports.append((parts[2].strip(), int(parts[1]) / 1000))
    imports.sort(key=lambda item: -item[1])
    return [(name, round(ms, 1)) for name, ms in imports[:top]]


def measure(rows: list[tuple[str, list[str], float | None]], runs: int) -> dict[str, list[float]]:
    """Wall seconds per command; rounds interleaved across commands, so load falls on all alike."""
    walls: dict[str, list[float]] = {label: [] for label, _, _ in rows}
    for _ in range(runs):
        for label, argv, _target in rows:
            walls[label].append(_wall(argv))
    return walls


def summarise(
    rows: list[tuple[str, list[str], float | None]], walls: dict[str, list[float]]
) -> list[dict[str, Any]]:
    floor = statistics.median(walls[PYTHON_FLOOR]) if walls.get(PYTHON_FLOOR) else None
    out = []
    for label, _argv, target in rows:
        median_ms = statistics.median(walls[label]) * 1000
        out.append(
            {
                "command": label,
                "runs": len(walls[label]),
                "median_ms": round(median_ms, 1),
                "min_ms": round(min(walls[label]) * 1000, 1),
                "max_ms": round(max(walls[label]) * 1000, 1),
                "x_python_floor": round(median_ms / (floor * 1000), 2) if floor else None,
                "target_ms": target,
                "target_met": None if target is None else median_ms <= target,
            }
        )
    return out


def render(data: dict[str, Any]) -> str:
    """The section's Markdown from its data (also used by the unit test)."""
    lines = [
        "## startup: fresh `mailcert` processes, no network",
        "",
        f"Median wall time of {data['runs']} fresh processes per command, rounds interleaved; `{PYTHON_FLOOR}` "
        "is the interpreter's own start (the floor), `openssl version` a C tool's.",
        "",
        "| command | median | range | × python floor | target |",
        "|---|---|---|---|---|",
    ]
    for row in data["commands"]:
        target = "—"
        if row["target_ms"] is not None:
            target = f"≤ {row['target_ms']:.0f} ms — {'met' if row['target_met'] else 'MISSED'}"
        ratio = f"{row['x_python_floor']:.2f}×" if row["x_python_floor"] is not None else "—"
        lines.append(
            f"| `{row['command']}` | {row['median_ms']:.0f} ms | {row['min_ms']:.0f}–{row['max_ms']:.0f} ms "
            f"| {ratio} | {target} |"
        )
    lines += ["", "Targets (issue 23):", ""]
    for row in data["commands"]:
        if row["target_ms"] is not None:
            verdict = "**met**" if row["target_met"] else "**MISSED**"
            lines.append(
                f"- `{row['command']}` ≤ {row['target_ms']:.0f} ms: {row['median_ms']:.0f} ms — {verdict}"
            )
    for command, imports in data.get("missed_profiles", {}).items():
        slowest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in imports)
        lines += [
            "",
            f"Target missed for `{command}`; slowest top-level imports (`python -X importtime`, cumulative, one "
            f"run): {slowest}.",
        ]
    return "\n".join(lines) + "\n"


def section(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """(Markdown, JSON-able data)."""
    rows = commands()
    runs = RUNS_QUICK if quick else RUNS_FULL
    walls = measure(rows, runs)
    summary = summarise(rows, walls)
    missed: dict[str, list[tuple[str, float]]] = {}
    for row, (_label, argv, _target) in zip(summary, rows, strict=True):
        if row["target_met"] is False:
            words = argv[1:] if argv[0] != sys.executable else argv[3:]
            code = f"from mailcert.cli import main; main(['mailcert', *{words!r}])"
            missed[row["command"]] = slowest_imports(["-c", code])
    data: dict[str, Any] = {"quick": quick, "runs": runs, "commands": summary, "missed_profiles": missed}
    return render(data), data


def main(quick: bool = False) -> None:
    print(section(quick)[0])
