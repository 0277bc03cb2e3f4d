"""`--format markdown`: the pull-request comment (title with status and counts, a table per host, fixes, symptoms)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from mailcert.model import Finding, HostReport, Report, Severity
from mailcert.report import render

WARN_KEY = Finding(
    "key.permissions",
    Severity.WARNING,
    "privkey.pem is mode 0644",
    "chmod 600 /etc/letsencrypt/live/mail.example.com/privkey.pem",
    file="/etc/letsencrypt/live/mail.example.com/privkey.pem",
)
SYNTAX = Finding(
    "config.syntax",
    Severity.CRITICAL,
    "smtpd_tls_cert_file ends in '# LE cert'",
    "move the comment to its own line",
    service="postfix",
    file="/etc/postfix/main.cf",
    line=33,
)
MISMATCH = Finding(
    "cert.name-mismatch",
    Severity.CRITICAL,
    "smtp.example.com not covered on port 587",
    "add smtp.example.com to the certificate",
    service="postfix",
    port=587,
    hostname="smtp.example.com",
)


def sample_report(*hosts: HostReport, plan: tuple[dict[str, object], ...] | None = None) -> Report:
    if not hosts:
        hosts = (
            HostReport("mx1.example.com", findings=(WARN_KEY, SYNTAX, MISMATCH)),
            HostReport("mx2.example.com", error="ssh: host key changed for mx2.example.com"),
            HostReport("mx3.example.com"),
        )
    return Report(
        datetime(2026, 11, 23, 17, 0, 5, tzinfo=UTC),
        datetime(2026, 11, 23, 17, 0, tzinfo=UTC),
        hosts,
        plan=plan,
    )


def cells(row: str) -> list[str]:
    """A GFM table row split on unescaped pipes."""
    assert row.startswith("| ") and row.endswith(" |"), row
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row[1:-1])]


def section(md: str, heading: str) -> str:
    start = md.index(heading)
    end = md.find("\n### ", start + 1)
    return md[start : end if end != -1 else len(md)]


def test_title_line_gives_overall_status_and_counts() -> None:
    md = render(sample_report(), "markdown")
    assert md.splitlines()[0] == (
        "## mailcert: CRITICAL, 3 hosts (1 critical, 1 unknown, 1 ok), 3 findings (2 critical, 1 warning)"
    )
    assert "Evaluated at 2026-11-23T17:00:00Z." in md


def test_each_host_gets_a_table_most_severe_first() -> None:
    host = section(render(sample_report(), "markdown"), "### mx1.example.com: CRITICAL")
    rows = [line for line in host.splitlines() if line.startswith("| ") and "Outlook" not in line]
    table = [cells(row) for row in rows[:5]]
    assert table == [
        ["severity", "check", "where", "message"],
        ["---", "---", "---", "---"],
        [
            "**CRITICAL**",
            "`config.syntax`",
            "`/etc/postfix/main.cf:33`",
            "smtpd\\_tls\\_cert\\_file ends in '# LE cert'",
        ],
        [
            "**CRITICAL**",
            "`cert.name-mismatch`",
            "`postfix:587 (smtp.example.com)`",
            "smtp.example.com not covered on port 587",
        ],
        [
            "**WARNING**",
            "`key.permissions`",
            "`/etc/letsencrypt/live/mail.example.com/privkey.pem`",
            "privkey.pem is mode 0644",
        ],
    ]


def test_fixes_are_listed_per_finding() -> None:
    host = section(render(sample_report(), "markdown"), "### mx1.example.com: CRITICAL")
    assert (
        "**Fixes**\n\n- `config.syntax` at `/etc/postfix/main.cf:33`: move the comment to its own line\n"
        in host
    )
    assert (
        "- `cert.name-mismatch` at `postfix:587 (smtp.example.com)`: add smtp.example.com to the certificate"
        in host
    )


def test_symptoms_sit_in_a_collapsed_details_block_per_host() -> None:
    host = section(render(sample_report(), "markdown"), "### mx1.example.com: CRITICAL")
    details = host[host.index("<details>") : host.index("</details>")]
    assert "<summary>What mail clients show (mx1.example.com)</summary>" in details
    rows = [cells(line) for line in details.splitlines() if line.startswith("| ")]
    assert rows[0] == ["check", "Outlook", "Apple Mail", "Thunderbird", "Android"]
    assert [row[0] for row in rows[2:]] == ["`config.syntax`", "`cert.name-mismatch`", "`key.permissions`"]
    mismatch = rows[3]
    assert mismatch[1].startswith('"The target principal name is incorrect."')
    assert mismatch[1].endswith("(flag `0x10`)")
    assert mismatch[2].startswith("Cannot Verify Server Identity")
    assert "\\<host\\>" not in mismatch[2] and "&lt;host&gt;" in mismatch[2]  # no raw HTML from the table


def test_unknown_and_clean_hosts_say_so() -> None:
    md = render(sample_report(), "markdown")
    assert section(md, "### mx2.example.com: UNKNOWN") == (
        "### mx2.example.com: UNKNOWN\n\nCould not check this host: ssh: host key changed for mx2.example.com\n\n"
        "No findings.\n"
    )
    assert section(md, "### mx3.example.com: OK") == "### mx3.example.com: OK\n\nNo problems found.\n"


def test_values_from_hosts_cannot_break_the_table_or_inject_html() -> None:
    evil = Finding(
        "config.syntax",
        Severity.CRITICAL,
        "value is 'a | b <img src=x onerror=alert(1)> [link](http://x)'\nsecond line",
        "fix `it`",
        file="/etc/postfix/ma|in`.cf",
        line=2,
    )
    md = render(sample_report(HostReport("mx1", findings=(evil,))), "markdown")
    row = next(line for line in md.splitlines() if line.startswith("| **CRITICAL**"))
    _severity, _check, place, message = cells(row)
    assert place == "``/etc/postfix/ma\\|in`.cf:2``"
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in message
    assert "\\[link\\](http://x)" in message and "a \\| b" in message
    assert message.endswith("<br>second line")
    assert "fix \\`it\\`" in md


def test_plan_shows_each_change_with_a_fenced_diff() -> None:
    change: dict[str, object] = {"host": "mx1", "kind": "edit", "outcome": "planned", "diff": "-a\n+b"}
    md = render(sample_report(HostReport("mx1"), plan=(change,)), "markdown")
    assert "### Plan\n\n- mx1 edit: planned\n\n  ```diff\n  -a\n  +b\n  ```\n" in md


def test_output_has_no_emoji_and_no_terminal_escapes() -> None:
    md = render(sample_report(), "markdown", color=True)
    assert "\x1b" not in md
    assert not any(0x2600 <= ord(ch) <= 0x27BF or ord(ch) >= 0x1F000 for ch in md)
