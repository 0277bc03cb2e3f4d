"""`lint ROOT` and `audit` agree on the same files: for every host tree under tests/data, the gather program
(run here on the tree, as it runs on a host) yields the same lint report as reading the tree directly."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.errors import MailcertError
from mailcert.facts import HostFiles
from mailcert.gather import GatheredHost, gather_argv
from mailcert.hostfs import LocalRoot
from mailcert.pki.trust import TrustStore

DATA = Path(__file__).resolve().parent.parent / "data"
ROOTS = sorted({p.parent for p in DATA.rglob("etc") if p.is_dir()})
OPTIONS = LintOptions(checks=CheckOptions(now=datetime(2026, 6, 1, tzinfo=UTC), trust=TrustStore.load([])))


def test_there_are_host_trees_to_compare() -> None:
    assert len(ROOTS) >= 20


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: str(p.relative_to(DATA)))
def test_lint_of_the_tree_equals_audit_of_the_gathered_tree(root: Path) -> None:
    output = subprocess.run(gather_argv(str(root)), capture_output=True, text=True, check=True, timeout=120)
    gathered = GatheredHost.from_output(output.stdout, name="host")
    assert _outcome(gathered) == _outcome(LocalRoot(root))


def _outcome(files: HostFiles) -> object:
    """The report, or the one-line error (a partial tree with no service config is an error for both)."""
    try:
        return lint_host(files, name="host", options=OPTIONS)
    except MailcertError as exc:
        return exc.line()
