"""The start-up benchmark's summary and Markdown (bench/startup_bench.py) on hand-made measurements."""

from __future__ import annotations

from bench import startup_bench
from bench.startup_bench import OPENSSL, PYTHON_FLOOR

ROWS: list[tuple[str, list[str], float | None]] = [
    ("mailcert lint --help", ["mailcert", "lint", "--help"], 150.0),
    ("mailcert audit --help", ["mailcert", "audit", "--help"], 300.0),
    ("mailcert --version", ["mailcert", "--version"], None),
    (PYTHON_FLOOR, ["python3", "-c", "pass"], None),
    (OPENSSL, ["openssl", "version"], None),
]
WALLS = {
    "mailcert lint --help": [0.100, 0.120, 0.110],
    "mailcert audit --help": [0.400, 0.350, 0.390],
    "mailcert --version": [0.5, 0.5, 0.5],
    PYTHON_FLOOR: [0.020, 0.020, 0.030],
    OPENSSL: [0.004, 0.005, 0.006],
}


def test_medians_ratios_and_targets() -> None:
    rows = {row["command"]: row for row in startup_bench.summarise(ROWS, WALLS)}
    lint = rows["mailcert lint --help"]
    assert (lint["median_ms"], lint["min_ms"], lint["max_ms"]) == (110.0, 100.0, 120.0)
    assert lint["x_python_floor"] == 5.5
    assert lint["target_met"] is True
    assert rows["mailcert audit --help"]["target_met"] is False
    assert rows["mailcert --version"]["target_met"] is None


def test_markdown_says_met_or_missed_and_shows_where_a_missed_one_goes() -> None:
    data = {
        "runs": 3,
        "commands": startup_bench.summarise(ROWS, WALLS),
        "missed_profiles": {
            "mailcert audit --help": [("mailcert.tasks.program", 250.0), ("mailcert.cli", 40.0)]
        },
    }
    text = startup_bench.render(data)
    assert "| `mailcert lint --help` | 110 ms | 100–120 ms | 5.50× | ≤ 150 ms — met |" in text
    assert "| `mailcert audit --help` | 390 ms | 350–400 ms | 19.50× | ≤ 300 ms — MISSED |" in text
    assert "| `openssl version` | 5 ms | 4–6 ms | 0.25× | — |" in text
    assert "- `mailcert audit --help` ≤ 300 ms: 390 ms — **MISSED**" in text
    assert (
        "slowest top-level imports (`python -X importtime`, cumulative, one run): mailcert.tasks.program 250 ms"
        in text
    )
