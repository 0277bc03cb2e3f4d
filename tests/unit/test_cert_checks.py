"""cert.* checks on chains as clients receive them. Each case is a fault a mail client really reports."""

from datetime import timedelta

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from mailcert.catalogue import Where
from mailcert.checks.certs import CheckOptions, check_chain
from mailcert.model import Severity
from mailcert.pki.trust import TrustStore
from tests.pki import END, NOW, START, TestPKI, sha1_leaf

WHERE = Where(service="postfix", port=25)


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI()


@pytest.fixture(scope="module")
def opts(pki: TestPKI) -> CheckOptions:
    return CheckOptions(now=NOW, trust=TrustStore.of([pki.root.cert]))


def checks_of(findings: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f.check for f in findings)


def test_healthy_fullchain_has_no_findings(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(["mail.example.test", "imap.example.test"])
    assert (
        check_chain(
            [leaf.cert, pki.intermediate.cert], ["mail.example.test", "imap.example.test"], opts, WHERE
        )
        == []
    )


def test_expired_leaf(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(not_after=NOW - timedelta(days=1))
    findings = check_chain([leaf.cert, pki.intermediate.cert], ["mail.example.test"], opts, WHERE)
    assert checks_of(findings) == ["cert.expired"]
    assert "expired on 2026-05-31" in findings[0].message


def test_at_moves_expiry_decisions(pki: TestPKI) -> None:
    leaf = pki.leaf()
    trust = TrustStore.of([pki.root.cert])
    chain = [leaf.cert, pki.intermediate.cert]
    assert check_chain(chain, [], CheckOptions(now=END - timedelta(days=30), trust=trust), WHERE) == []
    warning = check_chain(chain, [], CheckOptions(now=END - timedelta(days=10), trust=trust), WHERE)
    assert [(f.check, f.severity) for f in warning] == [("cert.expiring", Severity.WARNING)]
    critical = check_chain(chain, [], CheckOptions(now=END - timedelta(days=5), trust=trust), WHERE)
    assert [(f.check, f.severity) for f in critical] == [("cert.expiring", Severity.CRITICAL)]
    expired = check_chain(chain, [], CheckOptions(now=END + timedelta(seconds=1), trust=trust), WHERE)
    assert checks_of(expired) == ["cert.expired"]


def test_not_yet_valid(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(not_before=NOW + timedelta(days=2))
    assert checks_of(check_chain([leaf.cert, pki.intermediate.cert], [], opts, WHERE)) == [
        "cert.not-yet-valid"
    ]


def test_each_uncovered_name_is_its_own_finding(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(["mail.example.test", "*.eu.example.test"])
    names = ["mail.example.test", "imap.example.test", "smtp.eu.example.test", "a.b.eu.example.test"]
    findings = check_chain([leaf.cert, pki.intermediate.cert], names, opts, WHERE)
    assert [(f.check, f.hostname) for f in findings] == [
        ("cert.name-mismatch", "imap.example.test"),
        ("cert.name-mismatch", "a.b.eu.example.test"),
    ]
    assert "mail.example.test, *.eu.example.test" in findings[0].message


def test_cn_only_certificate_is_no_san_not_a_pile_of_mismatches(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(["mail.example.test"], include_san=False)
    findings = check_chain([leaf.cert, pki.intermediate.cert], ["mail.example.test"], opts, WHERE)
    assert checks_of(findings) == ["cert.no-san"]


def test_self_signed_leaf(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(self_signed=True)
    assert checks_of(check_chain([leaf.cert], ["mail.example.test"], opts, WHERE)) == ["cert.self-signed"]


def test_self_signed_leaf_given_as_trusted_is_fine(pki: TestPKI) -> None:
    leaf = pki.leaf(self_signed=True)
    pinned = CheckOptions(now=NOW, trust=TrustStore.of([leaf.cert]))
    assert check_chain([leaf.cert], ["mail.example.test"], pinned, WHERE) == []


def test_missing_intermediate_is_chain_incomplete(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf()
    findings = check_chain([leaf.cert], ["mail.example.test"], opts, WHERE)
    assert checks_of(findings) == ["cert.chain-incomplete"]
    assert "Mailcert Test Intermediate CA" in findings[0].message


def test_unknown_root_is_untrusted_not_incomplete(pki: TestPKI) -> None:
    other = TestPKI("Other")
    leaf = other.leaf()
    served = [leaf.cert, other.intermediate.cert, other.root.cert]
    findings = check_chain(
        served, ["mail.example.test"], CheckOptions(now=NOW, trust=TrustStore.of([pki.root.cert])), WHERE
    )
    assert checks_of(findings) == ["cert.untrusted"]
    assert "Other Root CA" in findings[0].message


def test_reversed_intermediates_still_verify_but_warn(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf()
    findings = check_chain(
        [leaf.cert, pki.root.cert, pki.intermediate.cert], ["mail.example.test"], opts, WHERE
    )
    assert checks_of(findings) == ["cert.chain-order"]
    assert findings[0].severity is Severity.WARNING


def test_client_only_eku_is_wrong_usage(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    findings = check_chain([leaf.cert, pki.intermediate.cert], ["mail.example.test"], opts, WHERE)
    assert checks_of(findings) == ["cert.wrong-usage"]
    assert "clientAuth" in findings[0].message


def test_no_eku_at_all_is_accepted(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(eku=None)
    assert check_chain([leaf.cert, pki.intermediate.cert], ["mail.example.test"], opts, WHERE) == []


def test_rsa_1024_is_weak(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(key="rsa1024")
    findings = check_chain([leaf.cert, pki.intermediate.cert], ["mail.example.test"], opts, WHERE)
    # SPEC: critical where OpenSSL at security level 2 refuses the key ("EE certificate key too weak")
    assert [(f.check, f.severity) for f in findings] == [("cert.weak-key", Severity.CRITICAL)]
    assert "1024-bit RSA" in findings[0].message


def test_sha1_signature_is_critical(pki: TestPKI) -> None:
    leaf = sha1_leaf(pki)  # the openssl CLI dates it from today
    opts = CheckOptions(
        now=leaf.cert.not_valid_before_utc + timedelta(days=1), trust=TrustStore.of([pki.root.cert])
    )
    findings = check_chain([leaf.cert, pki.intermediate.cert], ["mail.example.test"], opts, WHERE)
    assert checks_of(findings) == ["cert.weak-signature"]
    assert "SHA1" in findings[0].message


def test_expired_intermediate_and_root_are_reported(pki: TestPKI) -> None:
    leaf = pki.leaf()
    late = CheckOptions(now=START + timedelta(days=5000), trust=TrustStore.of([pki.root.cert]))
    findings = check_chain([leaf.cert, pki.intermediate.cert], [], late, WHERE)
    # an expired root no longer anchors anything (OpenSSL: "certificate has expired" at the root's depth)
    assert [f.message.split(" ")[0] for f in findings if f.check == "cert.expired"] == [
        "certificate",
        "intermediate",
        "root",
    ]


def test_findings_carry_where(pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf()
    (finding,) = check_chain([leaf.cert, pki.intermediate.cert], ["imap.example.test"], opts, WHERE)
    assert (finding.service, finding.port, finding.hostname) == ("postfix", 25, "imap.example.test")
    assert finding.fix
