"""`render(report, fmt)`: the formats it knows, and one clear usage error for the others."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mailcert.errors import UsageError
from mailcert.model import Finding, HostReport, Report, Severity
from mailcert.report import FORMATS, render

REPORT = Report(
    datetime(2026, 11, 23, 17, 0, 5, tzinfo=UTC),
    datetime(2026, 11, 23, 17, 0, tzinfo=UTC),
    (
        HostReport(
            "mx1", findings=(Finding("cert.expired", Severity.CRITICAL, "expired on 2026-11-01", "renew"),)
        ),
    ),
)


def test_formats_are_the_built_spec_formats() -> None:
    assert FORMATS == ("text", "json", "sarif", "markdown", "html")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_newline_terminated_text_without_colour_unless_text(fmt: str) -> None:
    out = render(REPORT, fmt, color=True)
    assert out.endswith("\n") and "cert.expired" in out
    assert ("\x1b[" in out) == (fmt == "text")


def test_format_names_are_case_insensitive() -> None:
    assert json.loads(render(REPORT, "JSON"))["schema"] == "mailcert/1"


def test_html_renders_one_page() -> None:
    assert render(REPORT, "html").startswith("<!DOCTYPE html>")


def test_an_unknown_format_is_a_usage_error_listing_the_choices() -> None:
    with pytest.raises(UsageError) as caught:
        render(REPORT, "xml")
    assert (
        caught.value.line() == "unknown report format 'xml' — use one of: text, json, sarif, markdown, html"
    )
