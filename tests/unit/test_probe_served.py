"""Findings from probe results (pure: no network): wrong mode wording, stale and inconsistent certificates,
closed ports during a sweep, and the report's view of the served leaf."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization

from mailcert.checks.certs import CheckOptions
from mailcert.checks.served import check_consistency, check_probe, served_cert
from mailcert.model import Mode, Severity
from mailcert.pki.trust import TrustStore
from mailcert.probe import Observed, ProbeResult
from tests.pki import END, NOW, TestPKI

HOST = "mail.example.test"


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI()


@pytest.fixture(scope="module")
def opts(pki: TestPKI) -> CheckOptions:
    return CheckOptions(now=NOW, trust=TrustStore.of([pki.root.cert]))


def der(*certs: object) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)  # type: ignore[attr-defined]


def served(
    pki: TestPKI,
    port: int,
    observed: Observed,
    expected: Mode,
    sans: tuple[str, ...] = (HOST,),
    **kwargs: object,
) -> ProbeResult:
    leaf = pki.leaf(list(sans))
    return ProbeResult(
        HOST,
        "127.0.0.1",
        port,
        expected,
        observed,
        der(leaf.cert, pki.intermediate.cert),
        "TLSv1.3",
        **kwargs,
    )  # type: ignore[arg-type]


def test_healthy_endpoint_has_no_findings(pki: TestPKI, opts: CheckOptions) -> None:
    assert check_probe(served(pki, 993, Observed.IMPLICIT, Mode.IMPLICIT), opts) == []


def test_submission_speaking_implicit_tls(pki: TestPKI, opts: CheckOptions) -> None:
    result = served(pki, 587, Observed.IMPLICIT, Mode.STARTTLS, protocol="smtp", service="submission")
    [finding] = check_probe(result, opts)
    assert finding.check == "config.mode-mismatch"
    assert finding.message.startswith("587 speaks implicit TLS")
    assert finding.service == "submission" and finding.port == 587 and finding.hostname == HOST
    assert "smtpd_tls_wrappermode" in finding.fix


def test_smtps_speaking_plaintext_smtp_without_starttls(opts: CheckOptions) -> None:
    result = ProbeResult(
        HOST,
        None,
        465,
        Mode.IMPLICIT,
        Observed.PLAINTEXT,
        protocol="smtp",
        error="implicit TLS failed: wrong version number",
    )
    [finding] = check_probe(result, opts)
    assert finding.check == "config.mode-mismatch"
    assert finding.message.startswith("465 speaks plaintext SMTP")


def test_imaps_speaking_plaintext_with_starttls_still_checks_the_chain(
    pki: TestPKI, opts: CheckOptions
) -> None:
    result = served(pki, 993, Observed.STARTTLS, Mode.IMPLICIT, sans=("other.example.test",), protocol="imap")
    findings = check_probe(result, opts)
    assert sorted(f.check for f in findings) == ["cert.name-mismatch", "config.mode-mismatch"]
    assert findings[0].message.startswith("993 speaks plaintext IMAP with STARTTLS")


def test_closed_port_in_a_sweep_is_information_only(opts: CheckOptions) -> None:
    result = ProbeResult(
        HOST,
        None,
        110,
        Mode.STARTTLS,
        Observed.UNREACHABLE,
        error="connection refused",
        service="pop3",
        required=False,
    )
    [finding] = check_probe(result, opts)
    assert finding.check == "tls.unreachable" and finding.severity is Severity.INFO


def test_closed_port_asked_for_is_critical(opts: CheckOptions) -> None:
    result = ProbeResult(HOST, None, 993, Mode.IMPLICIT, Observed.UNREACHABLE, error="connection refused")
    [finding] = check_probe(result, opts)
    assert finding.check == "tls.unreachable" and finding.severity is Severity.CRITICAL


def test_handshake_failure_carries_the_ssl_reason(opts: CheckOptions) -> None:
    result = ProbeResult(
        HOST,
        None,
        465,
        Mode.IMPLICIT,
        Observed.HANDSHAKE_FAILED,
        error="server closed the connection during the TLS handshake",
    )
    [finding] = check_probe(result, opts)
    assert finding.check == "tls.handshake-failed"
    assert "closed the connection during the TLS handshake" in finding.message


def test_stale_served_leaf_against_configured(pki: TestPKI, opts: CheckOptions) -> None:
    result = served(pki, 25, Observed.STARTTLS, Mode.STARTTLS)
    renewed = pki.leaf([HOST])
    on_disk = renewed.cert.fingerprint(hashes.SHA256()).hex()
    [finding] = check_probe(
        result, opts, configured_sha256=on_disk, configured_not_after=END, service="postfix"
    )
    assert finding.check == "tls.stale" and finding.severity is Severity.CRITICAL
    assert finding.service == "postfix"
    assert "2027-01-01" in finding.message and on_disk[-8:] in finding.message
    served_leaf = served_cert(result)
    assert served_leaf is not None
    assert check_probe(result, opts, configured_sha256=served_leaf.sha256.upper()) == []


def test_inconsistent_leaves_for_one_hostname(pki: TestPKI) -> None:
    same = served(pki, 25, Observed.STARTTLS, Mode.STARTTLS)
    other = served(pki, 993, Observed.IMPLICIT, Mode.IMPLICIT)
    [finding] = check_consistency(
        [same, other, ProbeResult(HOST, None, 110, Mode.STARTTLS, Observed.UNREACHABLE)]
    )
    assert finding.check == "tls.inconsistent" and finding.hostname == HOST
    assert "25 →" in finding.message and "993 →" in finding.message
    assert check_consistency([same, same]) == []


def test_served_cert_for_the_report(pki: TestPKI) -> None:
    result = served(pki, 993, Observed.IMPLICIT, Mode.IMPLICIT, sans=(HOST, "127.0.0.1"))
    cert = served_cert(result)
    assert cert is not None
    assert cert.sans == (HOST, "127.0.0.1")
    assert cert.not_after == datetime(2027, 1, 1, tzinfo=UTC)
    assert cert.chain_length == 2 and cert.tls_version == "TLSv1.3"
    assert served_cert(ProbeResult(HOST, None, 25, Mode.STARTTLS, Observed.PLAINTEXT)) is None


def test_junk_instead_of_a_certificate(opts: CheckOptions) -> None:
    result = ProbeResult(HOST, None, 993, Mode.IMPLICIT, Observed.IMPLICIT, (b"\x30\x03junk",), "TLSv1.3")
    [finding] = check_probe(result, opts)
    assert finding.check == "tls.handshake-failed" and "cannot be parsed" in finding.message
