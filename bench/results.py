"""One benchmark document: the machine's description, then a section per benchmark; saved as
bench/RESULTS.md and bench/RESULTS.json (the same data).

A run of some sections replaces those sections in the saved files and keeps the others, each section
carrying the date and machine it was measured on.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mailcert

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE / "RESULTS.md"
RESULTS_JSON = HERE / "RESULTS.json"
SCHEMA = "mailcert-bench/1"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _field(text: str, key: str, sep: str = ":") -> str:
    for line in text.splitlines():
        name, found, value = line.partition(sep)
        if found and name.strip() == key:
            return value.strip().strip('"')
    return "unknown"


def _git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def machine() -> dict[str, Any]:
    meminfo = _field(_read("/proc/meminfo"), "MemTotal")
    mem_gib = int(meminfo.split()[0]) / 1024 / 1024 if meminfo[:1].isdigit() else 0.0
    load1, load5, _load15 = os.getloadavg()
    return {
        "cpu": _field(_read("/proc/cpuinfo"), "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "os": _field(_read("/etc/os-release"), "PRETTY_NAME", "="),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mailcert": f"{mailcert.__version__} (git {_git_commit()})",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": f"{load1:.2f} (1 min), {load5:.2f} (5 min)",
    }


def machine_markdown(desc: dict[str, Any]) -> str:
    return (
        f"- Machine: {desc['cpu']}, {desc['cores']} cores, {desc['memory_gib']} GiB; {desc['os']}, "
        f"kernel {desc['kernel']}; Python {desc['python']}\n"
        f"- mailcert {desc['mailcert']}; measured {desc['date']}; load average at start "
        f"{desc['load_average_at_start']} (the machine is shared: other work ran at the same time)\n"
    )


def document(sections: dict[str, dict[str, Any]], desc: dict[str, Any], order: list[str]) -> str:
    """The whole Markdown document; a section measured at another time says so."""
    parts = [
        "# Benchmark results",
        "",
        "Produced by `make bench` (`python -m bench`).",
        "",
        machine_markdown(desc),
    ]
    versions: dict[str, str] = {}
    for name in order:
        entry = sections.get(name)
        if entry is None:
            continue
        versions.update(entry.get("data", {}).get("versions", {}))
    if versions:
        parts += ["Tool versions: " + "; ".join(f"{k} {v}" for k, v in sorted(versions.items())), ""]
    for name in order:
        entry = sections.get(name)
        if entry is None:
            parts += [f"## {name}", "", "not measured yet", ""]
            continue
        measured = entry.get("machine", {}).get("date")
        if measured and measured != desc["date"]:
            parts += [f"<!-- section `{name}` kept from an earlier run -->"]
            parts += [f"*Section `{name}` measured {measured} (an earlier run than the header above).*", ""]
        parts += [entry["markdown"].rstrip(), ""]
    return "\n".join(parts).rstrip() + "\n"


def load() -> dict[str, Any]:
    try:
        saved = json.loads(RESULTS_JSON.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return saved if isinstance(saved, dict) and saved.get("schema") == SCHEMA else {}


def save(new: dict[str, dict[str, Any]], desc: dict[str, Any], order: list[str]) -> str:
    """Merge the sections just measured into the saved results; write both files; return the Markdown."""
    saved = load()
    sections: dict[str, dict[str, Any]] = dict(saved.get("sections", {}))
    sections.update(new)
    text = document(sections, desc, order)
    RESULTS_JSON.write_text(
        json.dumps({"schema": SCHEMA, "machine": desc, "sections": sections}, indent=1, ensure_ascii=False)
        + "\n"
    )
    RESULTS_MD.write_text(text)
    return text
