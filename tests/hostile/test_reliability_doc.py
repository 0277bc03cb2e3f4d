"""docs/reliability.md cannot drift from the suite: every test it names exists, every test of tests/fuzz and
tests/hostile is named there, and a row without a test says **not yet**."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs/reliability.md"
NODE_ID = re.compile(r"`(tests/[^`:]+\.py)::(test_\w+)`")


def _rows() -> list[list[str]]:
    """Table rows (header and separator rows left out), as cells."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith(("| ---", "| scenario ", "| input ")):
            continue
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def test_every_named_test_exists() -> None:
    named = NODE_ID.findall(DOC.read_text(encoding="utf-8"))
    assert len(named) > 40
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not (REPO / path).is_file() or name not in _tests_in(REPO / path)
    ]
    assert missing == [], f"docs/reliability.md names tests that do not exist: {missing}"


def test_every_fuzz_and_hostile_test_is_in_the_table() -> None:
    named = set(NODE_ID.findall(DOC.read_text(encoding="utf-8")))
    unnamed = [
        f"{path.relative_to(REPO)}::{name}"
        for folder in ("tests/fuzz", "tests/hostile")
        for path in sorted((REPO / folder).glob("test_*.py"))
        for name in sorted(_tests_in(path))
        if (str(path.relative_to(REPO)), name) not in named and path != Path(__file__)
    ]
    assert unnamed == [], f"add these tests to docs/reliability.md: {unnamed}"


def test_every_row_names_a_test_or_says_not_yet() -> None:
    rows = _rows()
    assert len(rows) > 40
    for row in rows:
        assert len(row) == 3, f"a row of three cells: {row}"
        tests = NODE_ID.findall(row[2])
        if "**not yet**" in row[1]:
            assert not tests and not row[2], f"a 'not yet' row names no test: {row}"
        else:
            assert tests, f"a row without a test must say **not yet**: {row}"
