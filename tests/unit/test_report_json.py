"""`--format json`: SPEC's "mailcert/1" schema, key for key, built from hand-made reports."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import PurePosixPath

import pytest

from mailcert.errors import MailcertError
from mailcert.model import (
    ClientView,
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
from mailcert.report import render

LIVE = "/etc/letsencrypt/live/mail.example.com"
CONFIGURED = ConfiguredCert(
    cert_file=f"{LIVE}/fullchain.pem",
    key_file=f"{LIVE}/privkey.pem",
    sha256="ab" * 32,
    not_after=datetime(2027, 1, 31, 12, 0, tzinfo=UTC),
    sans=("mail.example.com", "smtp.example.com"),
)
SERVED = ServedCert(
    sha256="cd" * 32,
    not_after=datetime(2026, 12, 1, tzinfo=UTC),
    sans=("mail.example.com",),
    chain_length=2,
    tls_version="TLSv1.3",
)
FILE_FINDING = Finding(
    check="config.syntax",
    severity=Severity.CRITICAL,
    message="smtpd_tls_cert_file value ends in '# LE cert': '#' starts a comment only at line start",
    fix="move the comment to a line of its own",
    service="postfix",
    file="/etc/postfix/main.cf",
    line=33,
)
PORT_FINDING = Finding(
    check="cert.name-mismatch",
    severity=Severity.CRITICAL,
    message="smtp.example.com is not covered by the certificate served on port 587",
    fix="reissue the certificate with smtp.example.com in its SAN",
    service="postfix",
    port=587,
    hostname="smtp.example.com",
)


def sample_report(plan: tuple[dict[str, object], ...] | None = None) -> Report:
    mx1 = HostReport(
        name="mx1.example.com",
        endpoints=(
            Endpoint("postfix", 25, Mode.STARTTLS, ("mail.example.com",), CONFIGURED, SERVED),
            Endpoint("dovecot", 993, Mode.IMPLICIT, ("mail.example.com",), ConfiguredCert(None, None)),
        ),
        findings=(FILE_FINDING, PORT_FINDING),
    )
    mx2 = HostReport(name="mx2.example.com", error="ssh: host key for mx2.example.com is not in known_hosts")
    return Report(
        generated_at=datetime(2026, 11, 23, 17, 0, 5, 123456, tzinfo=UTC),
        evaluated_at=datetime(2026, 11, 23, 19, 0, 0, tzinfo=timezone(timedelta(hours=2))),
        hosts=(mx1, mx2),
        plan=plan,
    )


def as_json(report: Report) -> dict[str, object]:
    text = render(report, "json")
    assert text.endswith("\n")
    loaded = json.loads(text)
    assert isinstance(loaded, dict)
    return loaded


def test_top_level_is_specs_schema_and_times_are_utc_with_z() -> None:
    doc = as_json(sample_report())
    assert list(doc) == ["schema", "generated_at", "evaluated_at", "status", "hosts"]  # no plan outside fix
    assert doc["schema"] == "mailcert/1"
    assert doc["generated_at"] == "2026-11-23T17:00:05Z"
    assert doc["evaluated_at"] == "2026-11-23T17:00:00Z"  # 19:00 at +02:00
    assert doc["status"] == "critical"


def test_hosts_carry_name_status_error_endpoints_findings() -> None:
    hosts = as_json(sample_report())["hosts"]
    assert isinstance(hosts, list)
    mx1, mx2 = hosts
    assert list(mx1) == ["name", "status", "error", "endpoints", "findings"]
    assert (mx1["name"], mx1["status"], mx1["error"]) == ("mx1.example.com", "critical", None)
    assert mx2 == {
        "name": "mx2.example.com",
        "status": "unknown",
        "error": "ssh: host key for mx2.example.com is not in known_hosts",
        "endpoints": [],
        "findings": [],
    }


def test_renewals_appear_only_with_lineages_to_the_second() -> None:
    renewed = (
        LineageRenewal("mail.example.com", datetime(2026, 10, 2, 3, 4, 5, 250_000, tzinfo=UTC)),
        LineageRenewal("mail.example.com-0001", datetime(2026, 1, 1, tzinfo=UTC)),
    )
    report = dataclasses.replace(sample_report(), hosts=(HostReport("mx1", renewals=renewed),))
    hosts = as_json(report)["hosts"]
    assert isinstance(hosts, list)
    (host,) = hosts
    assert list(host) == ["name", "status", "error", "endpoints", "findings", "renewals"]
    assert host["renewals"] == [
        {"lineage": "mail.example.com", "renewed_at": "2026-10-02T03:04:05Z"},
        {"lineage": "mail.example.com-0001", "renewed_at": "2026-01-01T00:00:00Z"},
    ]
    without = as_json(sample_report())["hosts"]
    assert isinstance(without, list) and all("renewals" not in h for h in without)


def test_endpoints_show_configured_and_served_certificates() -> None:
    mx1 = as_json(sample_report())["hosts"][0]  # type: ignore[index]
    smtp, imaps = mx1["endpoints"]
    assert smtp == {
        "service": "postfix",
        "port": 25,
        "mode": "starttls",
        "hostnames": ["mail.example.com"],
        "configured": {
            "cert_file": "/etc/letsencrypt/live/mail.example.com/fullchain.pem",
            "key_file": "/etc/letsencrypt/live/mail.example.com/privkey.pem",
            "sha256": "ab" * 32,
            "not_after": "2027-01-31T12:00:00Z",
            "sans": ["mail.example.com", "smtp.example.com"],
        },
        "served": {
            "sha256": "cd" * 32,
            "not_after": "2026-12-01T00:00:00Z",
            "sans": ["mail.example.com"],
            "chain_length": 2,
            "tls_version": "TLSv1.3",
        },
    }
    assert imaps["mode"] == "implicit"
    assert imaps["configured"] == {
        "cert_file": None,
        "key_file": None,
        "sha256": None,
        "not_after": None,
        "sans": [],
    }
    assert imaps["served"] is None


def test_findings_carry_location_fix_and_client_symptoms() -> None:
    mx1 = as_json(sample_report())["hosts"][0]  # type: ignore[index]
    on_file, on_port = mx1["findings"]
    keys = ["check", "severity", "service", "port", "hostname", "file", "line", "message", "fix", "symptoms"]
    assert list(on_file) == keys
    assert (on_file["check"], on_file["severity"]) == ("config.syntax", "critical")
    assert (on_file["file"], on_file["line"], on_file["port"], on_file["hostname"]) == (
        "/etc/postfix/main.cf",
        33,
        None,
        None,
    )
    assert on_file["fix"] == "move the comment to a line of its own"
    assert (on_port["service"], on_port["port"], on_port["hostname"]) == ("postfix", 587, "smtp.example.com")
    assert on_port["file"] is None and on_port["line"] is None
    symptoms = on_port["symptoms"]
    assert list(symptoms) == ["outlook", "outlook_flag", "apple", "thunderbird", "android"]
    assert symptoms["outlook_flag"] == "0x10"
    assert "The target principal name is incorrect." in symptoms["outlook"]
    assert "Cannot Verify Server Identity" in symptoms["apple"]
    assert "Wrong Site" in symptoms["thunderbird"]


def test_unknown_and_warning_statuses_roll_up_as_spec_says() -> None:
    warning = Finding(
        "key.permissions", Severity.WARNING, "privkey.pem is mode 0644", "chmod 600 privkey.pem"
    )
    only_warning = dataclasses.replace(sample_report(), hosts=(HostReport("a", findings=(warning,)),))
    assert as_json(only_warning)["status"] == "warning"
    unknown_and_warning = dataclasses.replace(
        sample_report(), hosts=(HostReport("a", findings=(warning,)), HostReport("b", error="unreachable"))
    )
    assert as_json(unknown_and_warning)["status"] == "unknown"
    nothing = dataclasses.replace(sample_report(), hosts=(HostReport("a"),))
    assert as_json(nothing)["status"] == "ok"


class _Outcome(enum.Enum):
    APPLIED = "applied"


def test_plan_appears_only_for_fix_with_json_safe_values() -> None:
    assert as_json(sample_report(plan=()))["plan"] == []
    change: dict[str, object] = {
        "host": "mx1.example.com",
        "kind": "edit",
        "path": PurePosixPath("/etc/postfix/main.cf"),
        "diff": "-a\n+b\n",
        "outcome": _Outcome.APPLIED,
        "at": datetime(2026, 11, 23, 18, 0, tzinfo=UTC),
        "commands": ("postfix check", "postfix reload"),
    }
    (entry,) = as_json(sample_report(plan=(change,)))["plan"]  # type: ignore[misc]
    assert entry == {
        "host": "mx1.example.com",
        "kind": "edit",
        "path": "/etc/postfix/main.cf",
        "diff": "-a\n+b\n",
        "outcome": "applied",
        "at": "2026-11-23T18:00:00Z",
        "commands": ["postfix check", "postfix reload"],
    }


def test_a_plan_value_json_cannot_carry_is_one_clear_error() -> None:
    with pytest.raises(MailcertError, match=r"plan\[0\]\.blob"):
        render(sample_report(plan=({"blob": b"\x00\x01"},)), "json")


def test_unknown_check_id_is_one_clear_error() -> None:
    bad = Finding("cert.typo", Severity.CRITICAL, "m", "f")
    with pytest.raises(MailcertError, match="unknown check ID"):
        render(dataclasses.replace(sample_report(), hosts=(HostReport("a", findings=(bad,)),)), "json")


def test_model_fields_are_all_mapped_deliberately() -> None:
    # The JSON mapping names every field; a field added to the model (a key, a password?) must be
    # reviewed here before it can reach any output.
    def names(cls: type) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    assert names(ConfiguredCert) == {"cert_file", "key_file", "sha256", "not_after", "sans"}
    assert names(ServedCert) == {"sha256", "not_after", "sans", "chain_length", "tls_version"}
    assert names(Endpoint) == {
        "service",
        "port",
        "mode",
        "hostnames",
        "configured",
        "served",
        "advertised_by",
        "by_sni",  # reviewed: not in the JSON (how the probe picks names, no secret)
        "clients",  # reviewed: not in the audit JSON; fix's hosts[].endpoints_after shows it (below)
    }
    # per (port, name): the served leaf's CN, SANs, expiry, sha256 and the client's verdict — no secret
    assert names(ClientView) == {"hostname", "verdict", "reason", "subject", "sha256", "not_after", "sans"}
    assert names(Finding) == {
        "check",
        "severity",
        "message",
        "fix",
        "service",
        "port",
        "hostname",
        "file",
        "line",
    }
    assert names(HostReport) == {
        "name",
        "endpoints",
        "findings",
        "error",
        "renewals",  # reviewed: lineage names and times (JSON `renewals`)
        "endpoints_after",  # reviewed: fix's per (port, name) views, the ClientView fields above
    }
    assert names(LineageRenewal) == {"lineage", "renewed_at"}


def test_naive_times_are_taken_as_utc() -> None:
    # cryptography's legacy not_valid_after is naive UTC; it must not shift by the local timezone
    naive = dataclasses.replace(sample_report(), generated_at=datetime(2026, 11, 23, 17, 0, 5))
    assert as_json(naive)["generated_at"] == "2026-11-23T17:00:05Z"
