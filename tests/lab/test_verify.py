"""`mailcert verify` against the real lab hosts (sshd, Postfix, Dovecot, certbot lineages): silence when
healthy; stale and expiring certificates as cron lines, exit codes, Nagios line and Prometheus samples
(parsed back with prometheus_client); `--state` raising renewal.overdue once --at moves past the window.

Expected values come from the hosts' own files (the certificate certbot's live/ points at), not from
mailcert's output."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from mailcert.cli import build_program
from mailcert.tasks.state import run_state
from tests.lab.fixture import Lab

pytestmark = pytest.mark.lab

DOVECOT_PORTS = {"110", "143", "993", "995"}


def verify(lab: Lab, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, int]:
    argv = ["mailcert", "verify", "-I", str(lab.inventory), "--ca-bundle", str(lab.ca_bundle), *args]
    build_program().run(argv, exit=False)
    captured = capsys.readouterr()
    return captured.out, run_state().exit_code


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


def by_endpoint(
    got: dict[tuple[str, tuple[tuple[str, str], ...]], float], metric: str, host: str
) -> dict[str, float]:
    """`service:port` → value of one per-endpoint metric for one host."""
    out = {}
    for (name, labels), value in got.items():
        fields = dict(labels)
        if name == metric and fields["host"] == host:
            out[f"{fields['service']}:{fields['port']}"] = value
    return out


def test_healthy_lab_is_silent_and_exit_0(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prom = tmp_path / "mailcert.prom"
    out, code = verify(lab, capsys, "--prometheus", str(prom))
    assert (out, code) == ("", 0)
    got = samples(prom)
    leaf_expiry = {name: lab.disk_leaf(name).not_valid_after_utc.timestamp() for name in lab.names}
    for name in lab.names:
        assert got[("mailcert_host_up", (("host", name),))] == 1
        expiry = by_endpoint(got, "mailcert_certificate_expiry_timestamp_seconds", name)
        assert {port.split(":")[1] for port in expiry} >= {"25", "465", "587", *DOVECOT_PORTS}
        assert set(expiry.values()) == {leaf_expiry[name]}
        assert set(by_endpoint(got, "mailcert_served_matches_configured", name).values()) == {1}
        renewal = dict(
            (dict(labels)["lineage"], value)
            for (metric, labels), value in got.items()
            if metric == "mailcert_last_renewal_timestamp_seconds" and dict(labels)["host"] == name
        )
        assert lab.host(name).lineage in renewal
    nagios, code = verify(lab, capsys, "--format", "nagios")
    assert code == 0 and nagios.startswith(f"MAILCERT OK - {len(lab.names)} hosts, ")


def test_stale_certificate_lines_exit_2_nagios_prometheus_and_state(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    start = datetime.now(UTC)
    assert verify(lab, capsys, "--limit", "mx1", "--state", str(state), "--at", at(start)) == ("", 0)
    lab.plant("mx1", "stale")
    disk = lab.disk_leaf("mx1")
    prom = tmp_path / "mailcert.prom"
    out, code = verify(
        lab, capsys, "--limit", "mx1", "--prometheus", str(prom), "--state", str(state), "--at", at(start)
    )
    lines = out.splitlines()
    assert code == 2 and lines, out
    assert all(line.startswith("mx1 ") for line in lines), out
    stale = [line for line in lines if " tls.stale — " in line]
    # Dovecot keeps the certificate it read at start; Postfix smtpd processes still alive from the first
    # run may too, so only Dovecot's ports are certain to be stale.
    assert any(line.startswith("mx1 dovecot") for line in stale), out
    assert "renewed on disk" not in out  # this run is the first to see the renewal
    got = samples(prom)
    matches = by_endpoint(got, "mailcert_served_matches_configured", "mx1")
    assert {p for p, v in matches.items() if v == 0} >= {f"dovecot:{p}" for p in DOVECOT_PORTS}
    configured = by_endpoint(got, "mailcert_configured_certificate_expiry_timestamp_seconds", "mx1")
    assert set(configured.values()) == {disk.not_valid_after_utc.timestamp()}
    assert got[("mailcert_check_status", (("check", "tls.stale"), ("host", "mx1")))] == 2
    assert got[("mailcert_host_status", (("host", "mx1"),))] == 2

    later = start + timedelta(days=3, hours=1)
    out, code = verify(lab, capsys, "--limit", "mx1", "--state", str(state), "--at", at(later))
    assert code == 2
    assert "renewed on disk 3 days ago" in out and "still not served" in out, out
    nagios, code = verify(lab, capsys, "--limit", "mx1", "--format", "nagios", "--at", at(later))
    assert code == 2 and nagios.startswith("MAILCERT CRITICAL - "), nagios
    assert "'mx1_dovecot_993_days'=" in nagios and "'mx1_postfix_25_days'=" in nagios


def test_expiring_certificate_lines_exit_1_nagios_and_prometheus(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    not_after = lab.disk_leaf("mx2").not_valid_after_utc
    moment = not_after - timedelta(days=10)
    prom = tmp_path / "mailcert.prom"
    out, code = verify(lab, capsys, "--limit", "mx2", "--at", at(moment), "--prometheus", str(prom))
    lines = out.splitlines()
    assert code == 1, out
    assert any(" cert.expiring — " in line for line in lines), out
    assert all(line.startswith("mx2 ") for line in lines)
    assert not [line for line in lines if " — " not in line]
    nagios, code = verify(lab, capsys, "--limit", "mx2", "--at", at(moment), "--format", "nagios")
    assert code == 1 and nagios.startswith("MAILCERT WARNING - "), nagios
    perf = dict(item.split("=") for item in nagios.split(" | ", 1)[1].split())
    assert perf["'mx2_postfix_25_days'"] == "10;21;7" and perf["'mx2_dovecot_993_days'"] == "10;21;7"
    got = samples(prom)
    assert set(by_endpoint(got, "mailcert_certificate_expiry_timestamp_seconds", "mx2").values()) == {
        not_after.timestamp()
    }
    assert got[("mailcert_check_status", (("check", "cert.expiring"), ("host", "mx2")))] == 1
    # Past expiry the same certificate is critical.
    out, code = verify(lab, capsys, "--limit", "mx2", "--at", at(not_after + timedelta(days=1)))
    assert code == 2 and " cert.expired — " in out


def _dovecot_cert(lab: Lab, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(
        lab.root(name).joinpath("etc/dovecot/private/dovecot.pem").read_bytes()
    )


def test_second_run_with_state_reports_renewal_overdue_past_the_window(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Dovecot on a certificate certbot does not manage: only verify's memory can tell it is overdue.
    lab.plant("mx3", "self-signed")
    not_after = _dovecot_cert(lab, "mx3").not_valid_after_utc
    state = tmp_path / "state.json"
    first_at = not_after - timedelta(days=29)  # one day inside the 30-day renewal window
    out, _ = verify(lab, capsys, "--limit", "mx3", "--state", str(state), "--at", at(first_at))
    dovecot_overdue = lambda text: [  # noqa: E731
        line for line in text.splitlines() if " renewal.overdue — " in line and "dovecot:" in line
    ]
    assert dovecot_overdue(out) == [], out
    remembered = json.loads(state.read_text())["endpoints"]["mx3 dovecot:993"]
    assert remembered["inside_renewal_window_since"] == at(first_at)

    out, code = verify(
        lab, capsys, "--limit", "mx3", "--state", str(state), "--at", at(not_after - timedelta(days=25))
    )
    [overdue] = dovecot_overdue(out)
    assert (
        overdue.startswith("mx3 dovecot renewal.overdue — ")
        and f"since {first_at:%Y-%m-%d}, 4 days ago" in overdue
    )
    for port in DOVECOT_PORTS:
        assert f"dovecot:{port}" in overdue
    # One renewal.overdue per endpoint: the audit's own (certbot lineage, used by postfix) is not repeated.
    overdue_lines = [line for line in out.splitlines() if " renewal.overdue — " in line]
    assert [line for line in overdue_lines if "dovecot" in line] == [overdue], out
    assert any(line.startswith("mx3 postfix renewal.overdue — lineage ") for line in overdue_lines), out
    assert code == 2  # the self-signed certificate is critical in any case


def test_renew_dry_run_reports_certbots_reason_over_ssh(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    # The lab's certbot has never registered an ACME account, so an unattended renewal cannot work: the
    # dry run says so, as it would on a host where renewals silently fail.
    out, code = verify(lab, capsys, "--limit", "mx1", "--renew-dry-run")
    lineage = lab.host("mx1").lineage
    [line] = [line for line in out.splitlines() if " renewal.not-configured — " in line]
    assert line.startswith(
        f"mx1 renewal.not-configured — `certbot renew --dry-run` fails for lineage {lineage}: "
    )
    reason = line.split(f"{lineage}: ", 1)[1].split("; fix: ")[0]
    log = lab.root("mx1").joinpath("var/log/letsencrypt/letsencrypt.log").read_text()
    assert reason.rstrip(".") in log  # certbot's own words, as its log on the host has them
    assert code == 1
