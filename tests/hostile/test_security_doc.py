"""docs/security.md cannot drift from the suite: every test it names exists, every test of the trust-boundary
test files is named there, and a row that names no test says **not yet** (and says what is missing)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs/security.md"
NODE_ID = re.compile(r"`(tests/[^`:]+\.py)::(test_\w+)`")
# The test files written for the trust boundaries (issue 19): each of their tests must be in the doc.
BOUNDARY_FILES = (
    "tests/fuzz/test_fuzz_includes.py",
    "tests/fuzz/test_fuzz_markdown.py",
    "tests/fuzz/test_fuzz_redaction.py",
    "tests/hostile/test_fix_render_values.py",
    "tests/hostile/test_roles_folder.py",
    "tests/hostile/test_secret_lines_in_findings.py",
    "tests/hostile/test_secrets_gathered.py",
    "tests/unit/test_include_scope.py",
    "tests/unit/test_redaction_rules.py",
    "tests/hostile/test_text_spoofing.py",
    "tests/integration/test_ssh_known_hosts.py",
    "tests/integration/test_ssh_output_cap.py",
    "tests/unit/test_central_names.py",
    "tests/unit/test_known_hosts.py",
)


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def _rows() -> list[list[str]]:
    """Rows of the 'what each party can and cannot make mailcert do' table, as cells."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## What each party can and cannot make mailcert do", 1)[1].split("\n## ", 1)[0]
    return [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith(("| ---", "| party "))
    ]


def test_every_named_test_exists() -> None:
    named = NODE_ID.findall(DOC.read_text(encoding="utf-8"))
    assert len(named) > 30
    missing = [f"{p}::{n}" for p, n in named if not (REPO / p).is_file() or n not in _tests_in(REPO / p)]
    assert missing == [], f"docs/security.md names tests that do not exist: {missing}"


def test_every_trust_boundary_test_is_named() -> None:
    named = set(NODE_ID.findall(DOC.read_text(encoding="utf-8")))
    unnamed = [
        f"{f}::{n}" for f in BOUNDARY_FILES for n in sorted(_tests_in(REPO / f)) if (f, n) not in named
    ]
    assert unnamed == [], f"add these tests to docs/security.md: {unnamed}"


def test_every_row_names_a_test_or_says_not_yet_and_what_is_missing() -> None:
    rows = _rows()
    assert len(rows) > 15
    parties = {row[0] for row in rows}
    assert {"mail host", "DNS answers", "certificate contents", "inventory"} <= parties
    for row in rows:
        assert len(row) == 3, f"a row of three cells: {row}"
        if "**not yet**" in row[1]:
            assert not NODE_ID.findall(row[2]) and not row[2], f"a 'not yet' row names no test: {row}"
            assert "Missing:" in row[1], f"a 'not yet' row says what is missing: {row}"
        else:
            assert NODE_ID.findall(row[2]), f"a row without a test must say **not yet**: {row}"


def test_the_gaps_of_issue_19_are_proven_or_listed_as_not_yet() -> None:
    rows = _rows()
    proven = " ".join(row[2] for row in rows)
    assert "tests/unit/test_redaction_rules.py::" in proven  # redaction by one rule set
    assert "tests/hostile/test_fix_render_values.py::" in proven  # Markdown fences and code spans
    assert "tests/unit/test_include_scope.py::" in proven  # include limits on both paths
