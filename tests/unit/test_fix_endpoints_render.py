"""fix shows, per (port, name), what is served now → after (the plan's expectation, or the re-probe's
view once applied) with the client's verdict: text, Markdown and JSON `endpoints_after`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes

from mailcert.checks.verdict import client_view, short
from mailcert.fix.endpoints import compared
from mailcert.fix.model import HostPlan
from mailcert.model import HostReport, Report
from mailcert.report.fix_plan import render_markdown, render_text, with_endpoints_after
from mailcert.report.json import render_json
from tests.lint_trees import HostTree
from tests.pki import NOW
from tests.unit import test_fix_plan_served as served
from tests.unit import test_fix_recheck as recheck

NAMES = "imap.example.test, mail.example.test, pop.example.test, smtp.example.test"


def held_plan(tmp_path: Path) -> tuple[HostPlan, str]:
    tree = HostTree(tmp_path, served.PKI)
    good = tree.leaf.cert
    served.replace_through_live(tree)
    sha = good.fingerprint(hashes.SHA256()).hex()
    return served.plan_probed(tree, served.NO_ACME, good, "postfix", "dovecot"), sha


def restored_plan() -> HostPlan:
    before = recheck.report({993: True, 995: False})
    after = recheck.report({993: False, 995: False})
    return HostPlan("mx1", endpoints=compared(before, after), endpoints_from="re-probe, restored")


def test_text_shows_the_expected_after_per_port_and_names(tmp_path: Path) -> None:
    plan, sha = held_plan(tmp_path)
    text = render_text([plan])
    assert "   clients per (port, name), now → after: expected by the plan:\n" in text
    assert (
        f"     dovecot 993 {NAMES}: 'mail.example.test' [mail.example.test, smtp.example.test, "
        f"imap.example.test, pop.example.test] until 2027-01-01 sha256 …{sha[-8:]}: ok → unchanged\n"
    ) in text
    assert text.count(": ok → unchanged") == 7  # 7 ports, each line naming its 4 names


def test_text_marks_what_the_re_probe_saw_worse() -> None:
    text = render_text([restored_plan()])
    assert (
        "clients per (port, name), now → after: what the re-probe saw, before the change was restored:"
        in text
    )
    sha = recheck.SNAKEOIL.fingerprint(hashes.SHA256()).hex()
    assert (
        f"     dovecot 993 imap.example.test, pop.example.test: 'imap.example.test' [imap.example.test, "
        f"pop.example.test] until 2027-01-01 sha256 …{recheck.GOOD.fingerprint(hashes.SHA256()).hex()[-8:]}: ok → "
        f"'localhost' [localhost] until 2027-01-01 sha256 …{sha[-8:]}: fails (cert.self-signed: self-signed "
        "'localhost') — WORSE"
    ) in text


def test_markdown_has_a_row_per_port_with_its_names(tmp_path: Path) -> None:
    plan, _ = held_plan(tmp_path)
    md = render_markdown([plan])
    assert "| service | port | names | now | after |" in md
    rows = [line for line in md.splitlines() if line.startswith(("| postfix |", "| dovecot |"))]
    assert [row.split(" | ")[1] for row in rows] == ["25", "465", "587", "110", "143", "993", "995"]
    assert all(row.endswith(": ok | unchanged |") and f"| {NAMES} |" in row for row in rows)


def test_json_carries_endpoints_after_per_host_and_keeps_spec_fields() -> None:
    report = Report(datetime(2026, 12, 7, tzinfo=UTC), NOW, (HostReport("mx1"), HostReport("mx2")), plan=())
    document = json.loads(render_json(with_endpoints_after(report, [restored_plan()])))
    assert set(document) == {"schema", "generated_at", "evaluated_at", "status", "hosts", "plan"}
    mx1, mx2 = document["hosts"]
    assert {"name", "status", "error", "endpoints", "findings"} <= set(mx1)
    assert "endpoints_after" not in mx2  # no plan for it
    entries = mx1["endpoints_after"]
    assert len(entries) == 4
    first = entries[0]
    assert first["service"] == "dovecot" and first["port"] == 993 and first["mode"] == "implicit"
    assert first["hostname"] == "imap.example.test"
    assert first["after_from"] == "re-probe, restored"
    assert first["worse"] is True
    assert first["before"]["verdict"] == "ok" and first["before"]["reason"] is None
    assert first["after"] == {
        "verdict": "fails",
        "reason": "cert.self-signed: self-signed 'localhost'",
        "subject": "localhost",
        "sans": ["localhost"],
        "not_after": "2027-01-01T00:00:00Z",
        "sha256": recheck.SNAKEOIL.fingerprint(hashes.SHA256()).hex(),
    }
    assert [e["worse"] for e in entries] == [True, True, False, False]  # 995 failed before and after


def test_a_plan_without_endpoints_shows_no_section() -> None:
    assert "clients per" not in render_text([replace(HostPlan("mx1"), endpoints=())])


def test_a_hostile_subject_cannot_forge_lines_or_drive_the_terminal() -> None:
    view = client_view("imap.example.test", [], recheck.GOOD)
    hostile = replace(view, subject="evil\n   not fixed: nothing\x1b[2J", sans=("a\rb",))
    line = short(hostile)
    assert "\n" not in line and "\x1b" not in line and "\r" not in line
    assert line.startswith("'evil\\x0a   not fixed: nothing\\x1b[2J' [a\\x0db]")
