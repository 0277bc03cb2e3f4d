"""Hostile values in every field a report shows (host name, messages, fixes, files, hostnames, SANs,
errors): each format stays well-formed and no control character reaches the terminal raw."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcert.model import ConfiguredCert, Endpoint, Finding, HostReport, Mode, Report, ServedCert, Severity
from mailcert.report import render
from tests.fuzz.strategies import HOSTILE_WORDS
from tests.hostile.reports import check_all_formats

NOW = datetime(2026, 6, 1, tzinfo=UTC)
HOSTILE_VALUES = [
    "a | b | c",
    "line one\nline two",
    "crlf\r\nsecond",
    "\x1b[2J\x1b[31mred\x1b[0m",
    "\x1b]0;title\x07",
    "\x9b31mcsi",
    "\x00nul",
    "`rm -rf /`",
    "$(touch /tmp/mailcert-canary-report)",
    "</td><script>alert(1)</script><!--",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% raw %}",
    "[link](javascript:alert(1))",
    "```\nfenced",
    "\\|escaped pipe",
    "../../etc/shadow",
    "\u202etxt.exe",
    "x" * 5000,
]
# Lone surrogates never reach a report: configs decode as UTF-8 or Latin-1, SSH output with "replace".
WORDS = [w for w in [*HOSTILE_WORDS, *HOSTILE_VALUES, "a"] if not any(0xD800 <= ord(c) <= 0xDFFF for c in w)]


def _report(value: str) -> Report:
    finding = Finding(
        check="cert.name-mismatch",
        severity=Severity.CRITICAL,
        message=f"message {value}",
        fix=f"fix {value}",
        service="postfix",
        port=587,
        hostname=value,
        file=f"/etc/postfix/{value}",
        line=3,
    )
    endpoint = Endpoint(
        service="postfix",
        port=587,
        mode=Mode.STARTTLS,
        hostnames=(value, "mail.example.test"),
        configured=ConfiguredCert(
            cert_file=f"/etc/ssl/{value}", key_file=value, sha256="ab" * 32, not_after=NOW, sans=(value,)
        ),
        served=ServedCert(sha256="cd" * 32, not_after=NOW, sans=(value,), chain_length=2, tls_version=value),
    )
    hosts = (
        HostReport(name=value, endpoints=(endpoint,), findings=(finding,)),
        HostReport(name=f"down {value}", error=f"cannot connect: {value}"),
    )
    return Report(generated_at=NOW, evaluated_at=NOW, hosts=hosts)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_value_keeps_every_format_intact(value: str) -> None:
    rendered = check_all_formats(_report(value))
    if value.startswith("</td>"):
        assert "<script>" not in rendered["html"]  # autoescaped: a host cannot add markup to the page
    if value.startswith("{{"):
        assert "__subclasses__" in rendered["text"]  # shown as data, never evaluated


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map("".join))
def test_any_mix_of_hostile_words_keeps_every_format_intact(value: str) -> None:
    check_all_formats(_report(value))


@pytest.mark.parametrize(
    "value", ["forged\n  postfix port 25:\n    OK  no problems", "cr\rreturn", "tab\there"]
)
def test_newline_in_a_one_line_field_cannot_forge_report_lines(value: str) -> None:
    """Host names, hostnames, SANs, paths are one line in the text report: a newline is shown as \\n."""

    def text_lines(name: str) -> int:
        report = _report(name)
        plain = tuple(
            HostReport(
                name=h.name,
                endpoints=h.endpoints,
                findings=tuple(
                    Finding(
                        f.check, f.severity, "message", "fix", f.service, f.port, f.hostname, f.file, f.line
                    )
                    for f in h.findings
                ),
                error="cannot connect" if h.error else None,
            )
            for h in report.hosts
        )
        return len(render(Report(generated_at=NOW, evaluated_at=NOW, hosts=plain), "text").splitlines())

    assert text_lines(value) == text_lines("plain")
