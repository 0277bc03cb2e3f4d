"""`verify --state`: what one run remembers and what the next says with it — how long a renewal has waited
to be served, and renewal.overdue after more than 3 days inside the 30-day renewal window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailcert.errors import MailcertError
from mailcert.model import ConfiguredCert, Endpoint, Finding, HostReport, Mode, Report, ServedCert, Severity
from mailcert.verify import VerifyState, load_state, memory_findings, observe, save_state

DAY = timedelta(days=1)
NOT_AFTER = datetime(2026, 7, 1, tzinfo=UTC)  # renewal window opens 2026-06-01
OLD, NEW = "11" * 32, "22" * 32


def host(name: str, *endpoints: Endpoint, findings: tuple[Finding, ...] = ()) -> HostReport:
    return HostReport(name, endpoints=endpoints, findings=findings)


def endpoint(port: int, configured: str, served: str | None, not_after: datetime = NOT_AFTER) -> Endpoint:
    service = "dovecot" if port in (143, 993) else "postfix"
    cert = ServedCert(served, NOT_AFTER, ("mail.example.test",), 2, "TLSv1.3") if served else None
    return Endpoint(
        service,
        port,
        Mode.IMPLICIT,
        ("mail.example.test",),
        ConfiguredCert("/etc/ssl/mail.pem", "/etc/ssl/mail.key", configured, not_after),
        cert,
    )


def run(state: VerifyState, at: datetime, *hosts: HostReport) -> tuple[VerifyState, Report]:
    report = Report(generated_at=at, evaluated_at=at, hosts=hosts)
    current = observe(state, report)
    return current, memory_findings(current, report)


def checks(report: Report) -> list[tuple[str, str | None, int | None]]:
    return [(f.check, f.service, f.port) for h in report.hosts for f in h.findings]


def test_overdue_only_after_more_than_3_days_inside_the_window_as_of_at() -> None:
    mx1 = lambda: host("mx1", endpoint(993, OLD, OLD), endpoint(143, OLD, OLD))  # noqa: E731
    state, first = run(VerifyState(), datetime(2026, 6, 2, tzinfo=UTC), mx1())  # inside the window, day 1
    assert checks(first) == []
    state, three_days = run(state, datetime(2026, 6, 5, tzinfo=UTC), mx1())  # exactly 3 days: not yet
    assert checks(three_days) == []
    state, later = run(state, datetime(2026, 6, 5, 1, tzinfo=UTC), mx1())
    [overdue] = later.hosts[0].findings
    assert (overdue.check, overdue.severity, overdue.service, overdue.port) == (
        "renewal.overdue",
        Severity.WARNING,
        "dovecot",
        None,  # one finding for the certificate, naming both ports
    )
    assert "used on dovecot:993, dovecot:143 expires 2026-07-01" in overdue.message
    assert "renewal window (30 days before expiry) since 2026-06-02, 3 days ago" in overdue.message
    assert later.status.exit_code == 1


def test_a_certificate_seen_before_the_window_opened_counts_from_the_window() -> None:
    state, _ = run(VerifyState(), datetime(2026, 5, 20, tzinfo=UTC), host("mx1", endpoint(25, OLD, OLD)))
    state, report = run(state, datetime(2026, 6, 4, 12, tzinfo=UTC), host("mx1", endpoint(25, OLD, OLD)))
    assert checks(report) == [("renewal.overdue", "postfix", 25)]
    assert state.endpoints["mx1 postfix:25"].inside_window_since == datetime(2026, 6, 1, tzinfo=UTC)


def test_no_overdue_without_memory_or_after_a_renewal() -> None:
    _, fresh = run(VerifyState(), datetime(2026, 6, 20, tzinfo=UTC), host("mx1", endpoint(25, OLD, OLD)))
    assert checks(fresh) == []  # first sight: verify cannot tell how long it has been there
    state, _ = run(VerifyState(), datetime(2026, 6, 2, tzinfo=UTC), host("mx1", endpoint(25, OLD, OLD)))
    renewed = endpoint(25, NEW, NEW, not_after=datetime(2026, 9, 1, tzinfo=UTC))
    _, report = run(state, datetime(2026, 6, 10, tzinfo=UTC), host("mx1", renewed))
    assert checks(report) == []


def test_audit_side_overdue_is_not_duplicated() -> None:
    audit_overdue = Finding(
        "renewal.overdue", Severity.WARNING, "lineage mail expires ...", "certbot renew", service="dovecot"
    )
    state, _ = run(VerifyState(), datetime(2026, 6, 2, tzinfo=UTC), host("mx1", endpoint(993, OLD, OLD)))
    _, report = run(
        state,
        datetime(2026, 6, 9, tzinfo=UTC),
        host("mx1", endpoint(993, OLD, OLD), endpoint(25, OLD, OLD), findings=(audit_overdue,)),
    )
    # dovecot:993 is covered by the audit's finding; postfix:25 was first seen today, so not overdue yet.
    assert checks(report) == [("renewal.overdue", "dovecot", None)]
    assert report.hosts[0].findings[0].message == "lineage mail expires ..."


def test_stale_says_how_long_the_renewal_has_waited_to_be_served() -> None:
    stale = Finding("tls.stale", Severity.CRITICAL, "serves an older certificate.", "reload", "dovecot", 993)
    state, _ = run(VerifyState(), datetime(2026, 5, 1, tzinfo=UTC), host("mx1", endpoint(993, OLD, OLD)))
    state, first = run(
        state, datetime(2026, 5, 10, tzinfo=UTC), host("mx1", endpoint(993, NEW, OLD), findings=(stale,))
    )
    assert first.hosts[0].findings[0].message == "serves an older certificate."  # renewal seen just now
    _, later = run(
        state, datetime(2026, 5, 13, 6, tzinfo=UTC), host("mx1", endpoint(993, NEW, OLD), findings=(stale,))
    )
    assert later.hosts[0].findings[0].message == (
        "serves an older certificate; renewed on disk 3 days ago (verify first saw the new certificate "
        "222222222222 on 2026-05-10), still not served"
    )


def test_state_file_round_trip_keeps_unchecked_hosts(tmp_path: Path) -> None:
    path = tmp_path / "verify-state.json"
    assert load_state(str(path)) == VerifyState()  # first run: no file yet
    state, _ = run(
        VerifyState(),
        datetime(2026, 6, 2, tzinfo=UTC),
        host("mx1", endpoint(25, OLD, OLD)),
        host("mx2", endpoint(993, NEW, OLD)),
    )
    save_state(str(path), state)
    assert load_state(str(path)) == state
    document = json.loads(path.read_text())
    assert document["schema"] == "mailcert-verify-state/1"
    assert document["endpoints"]["mx2 dovecot:993"] == {
        "host": "mx2",
        "service": "dovecot",
        "port": 993,
        "configured": {
            "sha256": NEW,
            "not_after": "2026-07-01T00:00:00Z",
            "first_seen": "2026-06-02T00:00:00Z",
        },
        "served": {"sha256": OLD, "not_after": "2026-07-01T00:00:00Z", "first_seen": "2026-06-02T00:00:00Z"},
        "inside_renewal_window_since": "2026-06-02T00:00:00Z",
        "last_change": "2026-06-02T00:00:00Z",
    }
    down = HostReport("mx2", error="connection refused")
    later, _ = run(
        load_state(str(path)), datetime(2026, 6, 3, tzinfo=UTC), host("mx1", endpoint(25, OLD, OLD)), down
    )
    assert later.endpoints["mx2 dovecot:993"] == state.endpoints["mx2 dovecot:993"]
    assert later.endpoints["mx1 postfix:25"].last_change == datetime(
        2026, 6, 2, tzinfo=UTC
    )  # nothing changed
    assert [p.name for p in tmp_path.iterdir()] == ["verify-state.json"]  # no temporary file left


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not json",
        "[]",
        '{"schema": "other"}',
        '{"schema": "mailcert-verify-state/1", "endpoints": {"x": {}}}',
    ],
)
def test_a_broken_state_file_is_one_line_saying_what_to_do(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(MailcertError) as caught:
        load_state(str(path))
    line = caught.value.line()
    assert line.startswith(f"{path}: not a mailcert verify state file") and "delete it" in line
