"""Hostile values in every field a fix plan shows (host, description, file path, diff, command, removes,
unfixable, error) through every fix renderer: Markdown (a pull-request comment), JSON and SARIF.

The Markdown is read back the way CommonMark reads it: each diff stays inside its own fenced block, each
file path and command inside its own code span, and no value opens HTML or a link."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from mailcert.fix.model import Change as PlanChange
from mailcert.fix.model import ChangeKind, Command, FileChange, HostPlan
from mailcert.model import HostReport, Report
from mailcert.report import render
from mailcert.report.fix_plan import plan_entries, render_markdown, render_text
from mailcert.wording import printable
from tests.hostile.markdown_read import code_spans, fenced_blocks
from tests.hostile.reports import RAW_CONTROL, markdown_tables_intact, sarif_schema

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OUR_HTML = {"<br>", "<details>", "</details>", "<summary>", "</summary>"}


def _hostile_plan() -> HostPlan:
    path = "/etc/postfix/ma`in`.cf | x"
    before = "myhostname = mail.example.test\n"
    after = (
        "myhostname = mail.example.test\n"
        "# ````\n"
        "````\n"
        "```````\n"
        "</details><script>alert(1)</script>\n"
        "[click](javascript:alert(1))\n"
        "\x1b[2J\x1b]0;title\x07\n"
    )
    return HostPlan(
        host="mx`1` | <b>x</b>\n## forged",
        changes=(
            PlanChange(
                ChangeKind.EDIT,
                "point smtpd_tls_cert_file at `fullchain.pem` | <img src=x onerror=alert(1)>",
                removes=("cert.chain:smtp:25 | x",),
                file=FileChange(path, before, after),
            ),
            PlanChange(
                ChangeKind.COMMAND,
                "rebuild the SNI table",
                command=Command(("postmap", "-F", "hash:/etc/postfix/sni`x``y`|z")),
            ),
        ),
        unfixable=("needs DNS ``` change\n- [x](javascript:1)",),
    )


def test_a_hostile_diff_and_path_stay_inside_their_fence_and_code_span() -> None:
    plan = _hostile_plan()
    markdown = render_markdown([plan])
    assert not RAW_CONTROL.search(markdown)
    markdown_tables_intact(markdown)
    [diff_block] = fenced_blocks(markdown)
    assert plan.changes[0].file is not None
    assert diff_block == printable(plan.changes[0].file.diff).splitlines()
    assert diff_block[0] == "--- a/etc/postfix/ma`in`.cf | x"
    path_lines = [
        line for line in markdown.split("\n") if "ma`in`" in line and not line.startswith(("-", "+"))
    ]
    assert [code_spans(line) for line in path_lines] == [["/etc/postfix/ma`in`.cf \\| x"]]
    assert path_lines[0] == "``/etc/postfix/ma`in`.cf \\| x``"


def test_a_hostile_command_stays_in_one_code_span_in_its_table_cell() -> None:
    markdown = render_markdown([_hostile_plan()])
    [row] = [line for line in markdown.split("\n") if line.startswith("| 2 |")]
    spans = code_spans(row)
    assert spans == ["postmap -F 'hash:/etc/postfix/sni`x``y`\\|z'"]


def test_no_host_value_opens_html_or_a_link_or_a_heading() -> None:
    markdown = render_markdown([_hostile_plan()])
    in_fences = {line for block in fenced_blocks(markdown) for line in block}
    prose = "\n".join(line for line in markdown.split("\n") if line not in in_fences)
    prose = re.sub(r"(`+).*?\1", "", prose)  # code spans are shown literally
    assert set(re.findall(r"</?[A-Za-z][^>]*>", prose)) <= OUR_HTML
    assert re.search(r"(?<!\\)\]\(", prose) is None
    assert not any(line.startswith("## forged") for line in markdown.split("\n"))


def test_json_and_sarif_carry_the_hostile_values_exactly() -> None:
    import jsonschema

    plan = _hostile_plan()
    report = Report(
        generated_at=NOW,
        evaluated_at=NOW,
        hosts=(HostReport(name=plan.host),),
        plan=tuple(plan_entries([plan])),
    )
    document = json.loads(render(report, "json"))
    [edit, command, unfixable] = document["plan"]
    assert edit["path"] == "/etc/postfix/ma`in`.cf | x"
    assert edit["description"] == plan.changes[0].description
    assert "\x1b[2J" in edit["diff"]  # JSON keeps the bytes, escaped as \u001b: a program reads them exactly
    assert command["command"] == "postmap -F 'hash:/etc/postfix/sni`x``y`|z'"
    assert unfixable["description"] == plan.unfixable[0]
    sarif = render(report, "sarif")
    assert not RAW_CONTROL.search(sarif)
    jsonschema.validate(json.loads(sarif), sarif_schema())


def test_the_text_plan_shows_hostile_values_on_their_own_lines_without_terminal_controls() -> None:
    """`fix` prints its plan to the terminal before asking: a newline in a host name, a description or an
    unfixable reason cannot start a forged line, and ESC/OSC/BEL from a diff reach the terminal as text."""
    plan = _hostile_plan()
    text = render_text([plan])
    assert not RAW_CONTROL.search(text)
    lines = text.split("\n")
    assert not any(line.startswith(("## forged", "- [x]")) for line in lines)
    assert lines[0] == "== mx`1` | <b>x</b>\\n## forged: 2 steps"
    assert "   not fixed: needs DNS ``` change\\n- [x](javascript:1)" in lines
    assert "     +\\x1b[2J\\x1b]0;title\\x07" in lines
