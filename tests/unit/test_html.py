"""`--format html`: one self-contained page from hand-built reports, checked as text and in headless Chromium
(Debian's `chromium`: the screenshot is produced and non-trivial, the rendered DOM shows the hosts)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mailcert.model import ConfiguredCert, Endpoint, Finding, HostReport, Mode, Report, ServedCert, Severity
from mailcert.report import render
from mailcert.report.html import expiry_timeline, render_html

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _endpoint(service: str, port: int, not_after: datetime, served_sha: str = "aa" * 32) -> Endpoint:
    return Endpoint(
        service,
        port,
        Mode.STARTTLS,
        ("mail.example.test",),
        ConfiguredCert("/etc/letsencrypt/live/mail/fullchain.pem", None, "aa" * 32, not_after),
        ServedCert(served_sha, not_after, ("mail.example.test",), 2, "TLSv1.3"),
    )


REPORT = Report(
    generated_at=NOW,
    evaluated_at=NOW,
    hosts=(
        HostReport(
            "mx-alpha",
            endpoints=(
                _endpoint("postfix", 25, datetime(2026, 6, 5, tzinfo=UTC)),  # 4 days: critical
                _endpoint("dovecot", 993, datetime(2026, 6, 15, tzinfo=UTC), "bb" * 32),  # 14: warning
            ),
            findings=(
                Finding("cert.expiring", Severity.CRITICAL, "expires in 4 days", "renew it", "postfix", 25),
                Finding(
                    "tls.stale",
                    Severity.CRITICAL,
                    "serves an older certificate",
                    "reload dovecot",
                    "dovecot",
                    993,
                ),
            ),
        ),
        HostReport("mx-bravo", endpoints=(_endpoint("postfix", 465, datetime(2026, 8, 30, tzinfo=UTC)),)),
        HostReport("mx-charlie", error="cannot connect to 10.0.0.3:22: connection refused"),
        HostReport("mx-delta", endpoints=(_endpoint("dovecot", 995, datetime(2026, 5, 29, tzinfo=UTC)),)),
    ),
)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collect:
    parser = _Collect()
    parser.feed(page)
    return parser


def test_page_holds_summary_findings_fixes_symptoms_and_timeline() -> None:
    page = render(REPORT, "html")
    text = " ".join(" ".join(_parse(page).text).split())
    assert "mailcert: critical" in text and "4 hosts (1 critical, 1 unknown, 2 ok)" in text
    for name in ("mx-alpha", "mx-bravo", "mx-charlie", "mx-delta"):
        assert name in text
    assert "serves an older certificate" in text and "Fix: reload dovecot" in text
    assert "Could not check this host: cannot connect to 10.0.0.3:22: connection refused" in text
    assert "What mail clients show" in text  # symptoms per check
    tags = _parse(page).tags
    assert sum(1 for tag, _ in tags if tag == "svg") == 1
    assert sum(1 for tag, attrs in tags if tag == "rect") == 4  # one bar per endpoint with an expiry


def test_self_contained_no_script_no_remote_resource() -> None:
    page = render_html(REPORT)
    tags = _parse(page).tags
    assert not [t for t, _ in tags if t in ("script", "link", "img", "iframe")]
    urls = re.findall(r"(?:src|href)=\"([^\"]*)\"", page)
    assert all(u.startswith("#") for u in urls), urls


def test_values_from_hosts_are_escaped() -> None:
    hostile = Report(
        NOW,
        NOW,
        (
            HostReport(
                "<script>alert(1)</script>",
                findings=(
                    Finding(
                        "config.syntax", Severity.CRITICAL, 'value "><img src=x onerror=alert(1)>', "fix"
                    ),
                ),
            ),
        ),
    )
    page = render_html(hostile)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_timeline_sorted_by_days_left_with_thresholds() -> None:
    timeline = expiry_timeline(REPORT, warn_days=21, crit_days=7)
    assert [(r.label, r.days, r.level) for r in timeline.rows] == [
        ("mx-delta dovecot:995", -3, "expired"),
        ("mx-alpha postfix:25", 4, "critical"),
        ("mx-alpha dovecot:993", 14, "warning"),
        ("mx-bravo postfix:465", 90, "ok"),
    ]
    assert timeline.zero_x < timeline.crit_x < timeline.warn_x  # markers in order on the axis
    assert [r.y for r in timeline.rows] == sorted(r.y for r in timeline.rows)
    page = render_html(REPORT)
    assert "crit 7d" in page and "warn 21d" in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _headless(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def chromium() -> str:
    binary = _chromium()
    if binary is None:
        if os.geteuid() != 0:
            pytest.skip(
                "Debian's chromium is not installed (scripts/install-system-deps installs it as root)"
            )
        pytest.fail("chromium missing although running as root: run scripts/install-system-deps")
    return binary


def test_report_renders_in_headless_chromium(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(REPORT), encoding="utf-8")
    shot = tmp_path / "report.png"
    result = _headless(
        chromium, tmp_path / "profile", "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()
    )
    assert shot.is_file(), result.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    assert _png_size(data) == (1200, 1600)
    assert len(data) > 20_000  # a blank page compresses to a few kB; text, tables and bars do not
    dom = _headless(chromium, tmp_path / "profile2", "--dump-dom", page.as_uri())
    html = dom.stdout.decode()
    for name in ("mx-alpha", "mx-bravo", "mx-charlie", "mx-delta"):
        assert f'id="host-{name}"' in html, name
    assert "<svg" in html and html.count("<rect") == 4
