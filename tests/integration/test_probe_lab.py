"""`probe` against the lab's real mail hosts: a healthy host probes clean on every port and name, and each
planted fault that is visible from outside is found by probe alone (plus tls.stale given the disk leaf).

Uses the shared lab fixture (tests/lab/fixture.py); it skips only when not root, as the lab needs root.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes

from mailcert.checks.certs import CheckOptions
from mailcert.checks.served import check_probe, served_cert
from mailcert.model import Finding
from mailcert.pki.trust import TrustStore
from mailcert.probe import ProbeResult, Timeouts, probe_all, target_for
from tests.lab import fixture
from tests.lab.fixture import Lab, lab_manager  # noqa: F401 — the fixture `lab` depends on

lab = fixture.lab  # the shared lab; hosts planted on are reset to healthy after each test

pytestmark = pytest.mark.lab

HOST = "mx1"
PORTS = (25, 587, 465, 143, 993, 110, 995)
# Broken Dovecot login processes accept and then say nothing: keep those waits short in tests.
TIMEOUTS = Timeouts(connect=3, read=3, endpoint=7)


def opts(lab: Lab) -> CheckOptions:
    return CheckOptions(now=datetime.now(UTC), trust=TrustStore.load([str(lab.ca_bundle)], system=False))


def name(prefix: str) -> str:
    return f"{prefix}.{HOST}.mailcert.test"


def probe(lab: Lab, hostname: str, ports: tuple[int, ...] = PORTS) -> dict[int, ProbeResult]:
    address = lab.addresses[HOST]
    results = probe_all([target_for(hostname, port, address=address) for port in ports], timeouts=TIMEOUTS)
    return {r.port: r for r in results}


def findings(lab: Lab, results: dict[int, ProbeResult]) -> dict[int, list[Finding]]:
    return {port: check_probe(result, opts(lab)) for port, result in results.items()}


def checks(found: list[Finding]) -> set[str]:
    return {f.check for f in found}


def test_healthy_host_probes_clean_for_every_name_and_port(lab: Lab) -> None:
    for hostname in lab.host(HOST).hostnames:
        for port, found in findings(lab, probe(lab, hostname)).items():
            assert found == [], (hostname, port, found)


def test_leaf_only(lab: Lab) -> None:
    lab.plant(HOST, "leaf-only")
    found = findings(lab, probe(lab, name("smtp")))
    for port in (25, 587, 465):
        assert checks(found[port]) == {"cert.chain-incomplete"}, port
    assert found[993] == []


def test_expired(lab: Lab) -> None:
    lab.plant(HOST, "expired")
    for port, found in findings(lab, probe(lab, name("mail"))).items():
        assert checks(found) == {"cert.expired"}, port


def test_name_mismatch(lab: Lab) -> None:
    lab.plant(HOST, "name-mismatch")
    assert all(f == [] for f in findings(lab, probe(lab, name("mail"), (993, 465))).values())
    for prefix, port in (("imap", 993), ("pop", 995), ("smtp", 587)):
        [finding] = findings(lab, probe(lab, name(prefix), (port,)))[port]
        assert finding.check == "cert.name-mismatch" and finding.hostname == name(prefix)


def test_key_mismatch(lab: Lab) -> None:
    lab.plant(HOST, "key-mismatch")
    found = findings(lab, probe(lab, name("mail")))
    for port in (25, 587):
        assert checks(found[port]) == {"tls.starttls-unavailable"}, port
        assert "454 4.7.0 TLS not available due to local problem" in found[port][0].message
    assert checks(found[465]) == {"tls.handshake-failed"}
    for port in (993, 995, 143, 110):  # Dovecot's login processes fail: no greeting or no handshake
        assert checks(found[port]) & {
            "tls.handshake-failed",
            "tls.unreachable",
            "tls.starttls-unavailable",
        }, port


def test_self_signed(lab: Lab) -> None:
    lab.plant(HOST, "self-signed")
    found = findings(lab, probe(lab, name("mail")))
    for port in (143, 993, 110, 995):
        assert "cert.self-signed" in checks(found[port]), port
    assert found[587] == []


def served_sha256(result: ProbeResult) -> str | None:
    cert = served_cert(result)
    return cert.sha256 if cert else None


def wait_until_serving_disk_leaf(lab: Lab) -> None:
    """The reload after the previous test's reset is asynchronous (Dovecot, Postfix master): wait until every
    port serves what is on disk, or a reload landing late would load the renewed certificate we plant next."""
    on_disk = lab.disk_leaf(HOST).fingerprint(hashes.SHA256()).hex()
    for _ in range(40):
        if all(served_sha256(r) == on_disk for r in probe(lab, name("mail")).values()):
            return
        time.sleep(0.25)
    raise AssertionError("the lab host did not settle on its own certificate after reset")


def test_stale_needs_the_disk_leaf(lab: Lab) -> None:
    wait_until_serving_disk_leaf(lab)
    lab.plant(HOST, "stale")
    on_disk = lab.disk_leaf(HOST).fingerprint(hashes.SHA256()).hex()
    stale_ports = set()
    for port, result in probe(lab, name("mail")).items():
        assert check_probe(result, opts(lab)) == [], port  # the old certificate is still valid
        found = check_probe(result, opts(lab), configured_sha256=on_disk)
        assert checks(found) <= {"tls.stale"}, port
        stale_ports |= {port} if found else set()
    # Dovecot read its certificate at start and keeps serving it. Postfix starts a new smtpd per
    # connection when none is idle, and a new smtpd reads the renewed file: there the result varies.
    assert {143, 993, 110, 995} <= stale_ports


def test_dovecot_missing_lt(lab: Lab) -> None:
    lab.plant(HOST, "dovecot-missing-lt")
    found = findings(lab, probe(lab, name("imap"), (143, 993, 110, 995, 587)))
    for port in (143, 993, 110, 995):
        assert found[port] and all(f.check.startswith("tls.") for f in found[port]), port
    assert found[587] == []


def test_wrong_mode_587(lab: Lab) -> None:
    lab.plant(HOST, "wrong-mode-587")
    [finding] = findings(lab, probe(lab, name("smtp"), (587,)))[587]
    assert finding.check == "config.mode-mismatch"
    assert finding.message.startswith("587 speaks implicit TLS")


def test_wrong_mode_465(lab: Lab) -> None:
    lab.plant(HOST, "wrong-mode-465")
    [finding] = findings(lab, probe(lab, name("smtp"), (465,)))[465]
    assert finding.check == "config.mode-mismatch"
    assert finding.message.startswith("465 speaks plaintext SMTP")


def test_no_deploy_hook_is_invisible_from_outside(lab: Lab) -> None:
    lab.plant(HOST, "no-deploy-hook")
    assert all(f == [] for f in findings(lab, probe(lab, name("mail"))).values())
