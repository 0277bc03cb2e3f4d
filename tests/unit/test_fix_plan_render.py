"""How a plan is shown: text with unified diffs and commands, SPEC's JSON `plan` entries, Markdown for PRs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mailcert.fix.model import HostPlan
from mailcert.report.fix_plan import plan_entries, render_markdown, render_text
from tests.fix_trees import plan
from tests.lint_trees import LIVE, HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI


@pytest.fixture
def planned(tmp_path: Path) -> HostPlan:
    tree = HostTree(tmp_path, PKI)
    scenarios.leaf_only(tree)
    scenarios.key_world_readable(tree)
    scenarios.old_tls_only(tree)
    return plan(tree, PKI)


def test_text_shows_each_step_its_diff_command_and_what_stays(planned: HostPlan) -> None:
    text = render_text([planned])
    assert text.startswith("== mx1: 3 steps\n")
    assert f"-smtpd_tls_cert_file = {LIVE}/cert.pem\n     +smtpd_tls_cert_file = {LIVE}/fullchain.pem" in text
    assert "--- a/etc/postfix/main.cf" in text
    assert f"$ chmod 600 {LIVE}/privkey.pem" in text
    assert "removes: config.cert-not-fullchain postfix" in text
    assert "checked before reloading: postfix check" in text
    assert "not fixed: config.legacy-protocols postfix:25" in text


def test_json_entries_per_spec(planned: HostPlan) -> None:
    entries = plan_entries([planned, HostPlan(host="mx2", error="nothing planned: host unreachable")])
    json.dumps(entries)  # serialisable as it stands
    edit = entries[0]
    assert edit["host"] == "mx1" and edit["kind"] == "edit" and edit["outcome"] == "planned"
    assert edit["path"] == "/etc/postfix/main.cf"
    assert "+smtpd_tls_cert_file = " in str(edit["diff"])
    assert entries[1]["command"] == f"chmod 600 {LIVE}/privkey.pem"
    assert entries[2]["kind"] == "reload" and entries[2]["command"] == "postfix reload"
    assert [e["kind"] for e in entries[3:]] == ["unfixable", "unfixable", "error"]
    assert entries[-1] == {
        "host": "mx2",
        "kind": "error",
        "description": "nothing planned: host unreachable",
        "outcome": "failed",
    }


def test_markdown_collapses_diffs_per_host(planned: HostPlan) -> None:
    md = render_markdown([planned, HostPlan(host="mx2")])
    assert "### mx1 — 3 steps" in md
    assert "<details><summary>diffs (1 file)</summary>" in md
    assert "```diff\n--- a/etc/postfix/main.cf" in md
    assert "### mx2 — nothing to do" in md
    table_rows = [line for line in md.splitlines() if re.match(r"\| \d+ \| ", line)]  # the step rows
    assert len(table_rows) == 3
