"""Pieces of `mailcert audit` that need no host: names handed to lint, the unknown report, quiet progress."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from mailcert.audit.host import AuditSettings, unreachable
from mailcert.audit.options import hostnames_of
from mailcert.inventory.model import InventoryHost
from mailcert.model import Severity, Status
from mailcert.tasks.audit import run_audit


def test_inventory_hostnames_reach_lint_in_its_form() -> None:
    plain = InventoryHost(name="mx1", address="mx1", hostnames=("mail.example.test",))
    assert hostnames_of(plain) == ["mail.example.test"]
    per_service = InventoryHost(
        name="mx1",
        address="mx1",
        service_hostnames={"imap": ("imap.example.test",), "smtp": ("mx.example.test",)},
    )
    assert hostnames_of(per_service) == {
        "smtp": ["mx.example.test"],
        "submission": [],
        "imap": ["imap.example.test"],
        "pop3": [],
    }
    assert hostnames_of(InventoryHost(name="mx1", address="mx1")) is None  # lint uses the config's names


def test_unreachable_host_is_unknown_with_one_finding() -> None:
    report = unreachable("mx1", "cannot connect to mx1:22: connection refused", "is sshd running?")
    assert report.status is Status.UNKNOWN
    assert report.error == "cannot connect to mx1:22: connection refused — is sshd running?"
    [finding] = report.findings
    assert (finding.check, finding.severity, finding.fix) == (
        "host.unreachable",
        Severity.UNKNOWN,
        "is sshd running?",
    )


def test_progress_stays_silent_when_not_a_terminal() -> None:
    stderr = io.StringIO()
    host = InventoryHost(name="bad", address="127.0.0.1", port=22, known_hosts="/nonexistent/known_hosts")
    [result] = run_audit(
        [host], AuditSettings(now=datetime(2026, 6, 1, tzinfo=UTC), probe=False), progress=stderr
    )
    assert stderr.getvalue() == ""
    assert result.report.status is Status.UNKNOWN and "known_hosts" in (result.report.error or "")
