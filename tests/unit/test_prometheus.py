"""`verify --prometheus FILE`: the node_exporter textfile, parsed back with prometheus_client's own parser."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailcert.errors import UsageError
from mailcert.model import (
    ConfiguredCert,
    Endpoint,
    Finding,
    HostReport,
    LineageRenewal,
    Mode,
    Report,
    ServedCert,
    Severity,
)
from mailcert.report.prometheus import render_prometheus, write_prometheus

NOW = datetime(2026, 6, 1, tzinfo=UTC)
NOT_AFTER = datetime(2026, 7, 1, tzinfo=UTC)  # 1782864000
OLD_NOT_AFTER = datetime(2026, 6, 10, tzinfo=UTC)  # 1781049600


def _endpoint(service: str, port: int, served_sha: str) -> Endpoint:
    return Endpoint(
        service,
        port,
        Mode.IMPLICIT,
        ("mail.example.test",),
        ConfiguredCert("/etc/letsencrypt/live/mail/fullchain.pem", None, "aa" * 32, NOT_AFTER),
        ServedCert(served_sha, NOT_AFTER if served_sha == "aa" * 32 else OLD_NOT_AFTER, (), 2, "TLSv1.3"),
    )


REPORT = Report(
    generated_at=datetime(2026, 6, 1, 0, 5, tzinfo=UTC),
    evaluated_at=NOW,
    hosts=(
        HostReport(
            "mx1",
            endpoints=(_endpoint("postfix", 25, "aa" * 32), _endpoint("dovecot", 993, "bb" * 32)),
            findings=(
                Finding("tls.stale", Severity.CRITICAL, "stale", "reload", "dovecot", 993),
                Finding("cert.expiring", Severity.WARNING, "soon", "renew", "dovecot", 993),
            ),
            renewals=(LineageRenewal("mail.example.test", datetime(2026, 4, 2, tzinfo=UTC)),),
        ),
        HostReport("mx2", error="connection refused"),
    ),
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_textfile_samples_parse_back_with_prometheus_client() -> None:
    got = samples(render_prometheus(REPORT))
    ep = lambda svc, port: (("host", "mx1"), ("port", port), ("service", svc))  # noqa: E731
    assert got[("mailcert_host_up", (("host", "mx1"),))] == 1
    assert got[("mailcert_host_up", (("host", "mx2"),))] == 0
    assert got[("mailcert_host_status", (("host", "mx1"),))] == 2
    assert got[("mailcert_host_status", (("host", "mx2"),))] == 3
    assert got[("mailcert_certificate_expiry_timestamp_seconds", ep("postfix", "25"))] == 1782864000
    assert got[("mailcert_certificate_expiry_timestamp_seconds", ep("dovecot", "993"))] == 1781049600
    assert (
        got[("mailcert_configured_certificate_expiry_timestamp_seconds", ep("dovecot", "993"))] == 1782864000
    )
    assert got[("mailcert_served_matches_configured", ep("postfix", "25"))] == 1
    assert got[("mailcert_served_matches_configured", ep("dovecot", "993"))] == 0
    status = lambda host, check: ("mailcert_check_status", (("check", check), ("host", host)))  # noqa: E731
    assert got[status("mx1", "tls.stale")] == 2
    assert got[status("mx1", "cert.expiring")] == 1
    assert got[status("mx1", "cert.expired")] == 0  # every catalogue check has a series on a checked host
    assert got[status("mx2", "host.unreachable")] == 3
    assert status("mx2", "cert.expired") not in got  # an unchecked host's checks are unknown, not 0
    lineage = (("host", "mx1"), ("lineage", "mail.example.test"))
    assert got[("mailcert_last_renewal_timestamp_seconds", lineage)] == 1775088000
    assert got[("mailcert_last_run_timestamp_seconds", ())] == 1780272300
    assert got[("mailcert_evaluated_timestamp_seconds", ())] == 1780272000


def test_every_metric_has_help_and_gauge_type() -> None:
    text = render_prometheus(REPORT)
    families = list(text_string_to_metric_families(text))
    assert all(f.type == "gauge" and f.documentation for f in families)
    assert all(f.name.startswith("mailcert_") for f in families)


def test_textfile_is_written_atomically_beside_itself(tmp_path: Path) -> None:
    target = tmp_path / "mailcert.prom"
    target.write_text("old content\n")
    write_prometheus(str(target), REPORT)
    assert samples(target.read_text()) == samples(render_prometheus(REPORT))
    assert sorted(os.listdir(tmp_path)) == ["mailcert.prom"]


def test_textfile_name_must_end_in_prom_and_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"reads only files ending in \.prom"):
        write_prometheus(str(tmp_path / "mailcert.txt"), REPORT)
    with pytest.raises(UsageError, match=r"cannot write --prometheus .*/missing/mailcert\.prom"):
        write_prometheus(str(tmp_path / "missing" / "mailcert.prom"), REPORT)
