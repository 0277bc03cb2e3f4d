"""`--format text`: per-host headers, endpoints table, findings by service and port, summary, colour on demand."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from mailcert.model import (
    ConfiguredCert,
    Endpoint,
    Finding,
    HostReport,
    Mode,
    Report,
    ServedCert,
    Severity,
)
from mailcert.report import render

ESC = "\x1b"
CONFIGURED = ConfiguredCert(
    cert_file="/etc/letsencrypt/live/mail.example.com/fullchain.pem",
    key_file="/etc/letsencrypt/live/mail.example.com/privkey.pem",
    sha256="ab" * 32,
    not_after=datetime(2027, 1, 31, 12, 0, tzinfo=UTC),
    sans=("mail.example.com",),
)
STALE = ServedCert("cd" * 32, datetime(2026, 12, 1, tzinfo=UTC), ("mail.example.com",), 2, "TLSv1.3")
CURRENT = ServedCert(
    "AB:" * 31 + "AB", datetime(2027, 1, 31, 12, 0, tzinfo=UTC), ("mail.example.com",), 2, "TLSv1.2"
)

CLOCK = Finding("host.clock-skew", Severity.WARNING, "the clock is 95 s ahead", "enable NTP")
SYNTAX = Finding(
    "config.syntax",
    Severity.CRITICAL,
    "value ends in '# LE cert'",
    "move the comment to its own line",
    service="postfix",
    file="/etc/postfix/main.cf",
    line=33,
)
STALE_25 = Finding(
    "tls.stale",
    Severity.CRITICAL,
    "port 25 serves an older certificate than fullchain.pem",
    "systemctl reload postfix",
    service="postfix",
    port=25,
    hostname="mail.example.com",
)
MISMATCH_993 = Finding(
    "cert.name-mismatch",
    Severity.CRITICAL,
    "imap.example.com is not covered",
    "add imap.example.com to the certificate",
    service="dovecot",
    port=993,
    hostname="imap.example.com",
)


def sample_report(*hosts: HostReport) -> Report:
    if not hosts:
        hosts = (
            HostReport(
                "mx1.example.com",
                endpoints=(
                    Endpoint("postfix", 25, Mode.STARTTLS, ("mail.example.com",), CONFIGURED, STALE),
                    Endpoint(
                        "dovecot",
                        993,
                        Mode.IMPLICIT,
                        ("imap.example.com", "mail.example.com"),
                        CONFIGURED,
                        CURRENT,
                    ),
                    Endpoint("postfix", 465, Mode.IMPLICIT, ("mail.example.com",), CONFIGURED),
                ),
                findings=(STALE_25, SYNTAX, MISMATCH_993, CLOCK),
            ),
            HostReport("mx2.example.com", error="ssh: connection refused on 192.0.2.7:22"),
            HostReport("mx3.example.com"),
        )
    return Report(
        datetime(2026, 11, 23, 17, 0, 5, tzinfo=UTC), datetime(2026, 11, 23, 17, 0, tzinfo=UTC), hosts
    )


def host_block(text: str, name: str) -> str:
    """The lines of one host, from its header to the blank line after it."""
    start = text.index(f"\n{name}: ") + 1
    return text[start : text.index("\n\n", start)]


def test_plain_output_has_no_ansi_escapes_and_colour_output_has_them() -> None:
    plain = render(sample_report(), "text", color=False)
    assert ESC not in plain
    coloured = render(sample_report(), "text", color=True)
    assert f"{ESC}[1;31mCRITICAL{ESC}[0m" in coloured
    assert f"{ESC}[35mUNKNOWN{ESC}[0m" in coloured
    assert f"{ESC}[32mOK{ESC}[0m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain  # colour adds nothing else


def test_each_host_gets_a_status_header_and_unknown_hosts_say_why() -> None:
    text = render(sample_report(), "text")
    assert "\nmx1.example.com: CRITICAL\n" in text
    assert host_block(text, "mx2.example.com") == (
        "mx2.example.com: UNKNOWN\n  error: ssh: connection refused on 192.0.2.7:22"
    )
    assert host_block(text, "mx3.example.com") == "mx3.example.com: OK\n  no problems found"


def test_findings_are_grouped_host_level_first_then_by_service_and_port() -> None:
    block = host_block(render(sample_report(), "text"), "mx1.example.com")
    groups = [line.strip() for line in block.splitlines() if re.fullmatch(r"  \S.*:", line)]
    assert groups == ["endpoints:", "host:", "dovecot port 993:", "postfix:", "postfix port 25:"]
    assert block.index("host.clock-skew") < block.index("cert.name-mismatch") < block.index("config.syntax")
    assert block.index("config.syntax") < block.index("tls.stale")


def test_a_finding_shows_severity_check_place_message_fix_and_client_symptoms() -> None:
    block = host_block(render(sample_report(), "text"), "mx1.example.com")
    lines = block.splitlines()
    at = next(i for i, line in enumerate(lines) if "cert.name-mismatch" in line)
    assert lines[at] == "    CRITICAL  cert.name-mismatch  imap.example.com"
    assert lines[at + 1] == "      imap.example.com is not covered"
    assert lines[at + 2] == "      fix: add imap.example.com to the certificate"
    symptoms = " ".join(line.strip() for line in lines[at + 3 : at + 6])
    assert symptoms.startswith('clients: Outlook: "The target principal name is incorrect."')
    assert "[0x10]" in symptoms
    assert "| Apple: Cannot Verify Server Identity" in symptoms
    assert "| Thunderbird: Add Security Exception" in symptoms
    syntax = next(line for line in lines if "config.syntax" in line)
    assert syntax == "    CRITICAL  config.syntax  /etc/postfix/main.cf:33"


def test_endpoints_table_shows_expiry_fingerprint_prefix_and_what_is_served() -> None:
    block = host_block(render(sample_report(), "text"), "mx1.example.com")
    rows = [re.split(r"\s{2,}", line.strip()) for line in block.splitlines()[2:6]]
    assert rows == [
        ["SERVICE", "PORT", "MODE", "HOSTNAMES", "CONFIGURED (EXPIRES SHA256)", "SERVED"],
        [
            "postfix",
            "25",
            "starttls",
            "mail.example.com",
            "2027-01-31 abababababab",
            "2026-12-01 cdcdcdcdcdcd TLSv1.3 chain 2",
        ],
        [
            "dovecot",
            "993",
            "implicit",
            "imap.example.com, mail.example.com",
            "2027-01-31 abababababab",
            "= configured TLSv1.2 chain 2",
        ],
        ["postfix", "465", "implicit", "mail.example.com", "2027-01-31 abababababab", "not probed"],
    ]


def test_summary_counts_hosts_by_status_and_findings_by_severity() -> None:
    text = render(sample_report(), "text")
    assert text.splitlines()[-1] == (
        "summary: CRITICAL: 3 hosts (1 critical, 1 unknown, 1 ok), 4 findings (3 critical, 1 warning)"
    )
    ok = render(sample_report(HostReport("mx3.example.com")), "text")
    assert ok.splitlines()[-1] == "summary: OK: 1 host (1 ok), 0 findings"


def test_hostile_values_cannot_drive_the_terminal() -> None:
    evil = Finding(
        "config.syntax",
        Severity.CRITICAL,
        "value is '\x1b[2J\x1b]0;pwned\x07'",
        "remove it",
        file="/etc/postfix/main.cf\x1b[31m",
        line=1,
    )
    text = render(sample_report(HostReport("mx\x1b[5m1", findings=(evil,))), "text", color=False)
    assert ESC not in text and "\x07" not in text
    assert "value is '\\x1b[2J\\x1b]0;pwned\\x07'" in text
    assert "mx\\x1b[5m1: CRITICAL" in text


def test_plan_lists_each_change_with_its_diff() -> None:
    change: dict[str, object] = {
        "host": "mx1.example.com",
        "kind": "edit /etc/postfix/main.cf",
        "diff": "-smtpd_tls_cert_file = /etc/ssl/a.pem # LE\n+smtpd_tls_cert_file = /etc/ssl/a.pem",
        "outcome": "planned",
    }
    report = sample_report(HostReport("mx1.example.com"))
    text = render(Report(report.generated_at, report.evaluated_at, report.hosts, plan=(change,)), "text")
    assert (
        "plan:\n  mx1.example.com edit /etc/postfix/main.cf: planned\n"
        "    -smtpd_tls_cert_file = /etc/ssl/a.pem # LE\n    +smtpd_tls_cert_file = /etc/ssl/a.pem\n"
    ) in text
    assert "plan:" not in render(report, "text")
