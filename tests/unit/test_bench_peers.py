"""The benchmark's readers of peer tools' output (bench/peers.py), on output captured from the real tools
against the lab (2026-12-04: openssl 3.0, check_ssl_cert 2.60.0, testssl.sh 3.0.8, sslyze 6.3.1) and read
by hand: what each tool said for a healthy endpoint and for each planted fault. The "detected" column of
bench/RESULTS.md comes from these readers, so a change in how they read must show up here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import peers, probe_bench
from bench.peers import (
    EXPIRED,
    INCOMPLETE_CHAIN,
    NAME_MISMATCH,
    NO_TLS,
    SELF_SIGNED,
    UNTRUSTED,
    Endpoint,
    Verdict,
)

# ---------------------------------------------------------------- openssl s_client -brief (stderr)

OPENSSL_OK = """CONNECTION ESTABLISHED
Protocol version: TLSv1.3
Ciphersuite: TLS_AES_256_GCM_SHA384
Peer certificate: CN = mail.mx1.mailcert.test
Hash used: SHA256
Signature type: ECDSA
Verification: OK
Verified peername: smtp.mx1.mailcert.test
Server Temp Key: X25519, 253 bits
250 CHUNKING
DONE
"""
OPENSSL_EXPIRED = """depth=0 CN = mail.mx2.mailcert.test
verify error:num=10:certificate has expired
notAfter=Nov 24 14:35:16 2026 GMT
notAfter=Nov 24 14:35:16 2026 GMT
CONNECTION ESTABLISHED
Protocol version: TLSv1.3
Ciphersuite: TLS_AES_256_GCM_SHA384
Peer certificate: CN = mail.mx2.mailcert.test
Hash used: SHA256
Signature type: ECDSA
Verification error: certificate has expired
Server Temp Key: X25519, 253 bits
DONE
"""
OPENSSL_NAME = """depth=0 CN = mail.mx3.mailcert.test
verify error:num=62:hostname mismatch
CONNECTION ESTABLISHED
Protocol version: TLSv1.3
Ciphersuite: TLS_AES_256_GCM_SHA384
Peer certificate: CN = mail.mx3.mailcert.test
Hash used: SHA256
Signature type: ECDSA
Verification error: hostname mismatch
Server Temp Key: X25519, 253 bits
250 CHUNKING
DONE
"""
OPENSSL_LEAF_ONLY = """depth=0 CN = mail.mx4.mailcert.test
verify error:num=20:unable to get local issuer certificate
depth=0 CN = mail.mx4.mailcert.test
verify error:num=21:unable to verify the first certificate
CONNECTION ESTABLISHED
Protocol version: TLSv1.3
Ciphersuite: TLS_AES_256_GCM_SHA384
Peer certificate: CN = mail.mx4.mailcert.test
Hash used: SHA256
Signature type: ECDSA
Verification error: unable to verify the first certificate
Server Temp Key: X25519, 253 bits
250 CHUNKING
DONE
"""
# Self-signed Dovecot certificate for mail.<domain>, asked for imap.<domain>: two errors, the last one wins
# the final line; the first is only on a `verify error` line.
OPENSSL_SELF_SIGNED_AND_NAME = """depth=0 CN = mail.mx5.mailcert.test
verify error:num=18:self-signed certificate
depth=0 CN = mail.mx5.mailcert.test
verify error:num=62:hostname mismatch
CONNECTION ESTABLISHED
Protocol version: TLSv1.3
Ciphersuite: TLS_AES_256_GCM_SHA384
Peer certificate: CN = mail.mx5.mailcert.test
Hash used: SHA256
Signature type: RSA-PSS
Verification error: hostname mismatch
Server Temp Key: X25519, 253 bits
. OK Pre-login capabilities listed, post-login capabilities have more.
DONE
"""
# The same certificate asked for the name it carries (how the bench checks mx5): only the self-signed error.
OPENSSL_SELF_SIGNED = """depth=0 CN = mail.mx1.mailcert.test
verify error:num=18:self-signed certificate
CONNECTION ESTABLISHED
Protocol version: TLSv1.3
Ciphersuite: TLS_AES_256_GCM_SHA384
Peer certificate: CN = mail.mx1.mailcert.test
Hash used: SHA256
Signature type: RSA-PSS
Verification error: self-signed certificate
Server Temp Key: X25519, 253 bits
DONE
"""
OPENSSL_REFUSED = """40673FF3487F0000:error:8000006F:system library:BIO_connect:Connection refused:../crypto/bio/bio_sock2.c:117:calling connect()
40673FF3487F0000:error:10000067:BIO routines:BIO_connect:connect error:../crypto/bio/bio_sock2.c:119:
connect:errno=111
"""


@pytest.mark.parametrize(
    ("stderr", "code", "problems"),
    [
        (OPENSSL_OK, 0, set()),
        (OPENSSL_EXPIRED, 0, {EXPIRED}),
        (OPENSSL_NAME, 0, {NAME_MISMATCH}),
        (OPENSSL_LEAF_ONLY, 0, {UNTRUSTED}),
        (OPENSSL_SELF_SIGNED_AND_NAME, 0, {SELF_SIGNED, NAME_MISMATCH}),
        (OPENSSL_SELF_SIGNED, 0, {SELF_SIGNED}),
        (OPENSSL_REFUSED, 1, {NO_TLS}),
    ],
)
def test_openssl(stderr: str, code: int, problems: set[str]) -> None:
    assert peers.parse_openssl("", stderr, code, "").problems == problems


def test_openssl_says_its_last_line() -> None:
    assert peers.parse_openssl("", OPENSSL_LEAF_ONLY, 0, "").said == (
        "Verification error: unable to verify the first certificate"
    )
    assert peers.parse_openssl("", OPENSSL_OK, 0, "").said == "Verification: OK"


def test_openssl_unknown_reason_is_other_not_a_problem() -> None:
    verdict = peers.parse_openssl(
        "", "CONNECTION ESTABLISHED\nVerification error: invalid CA certificate\n", 0, ""
    )
    assert verdict.problems == frozenset()
    assert verdict.other == ("invalid CA certificate",)


# ---------------------------------------------------------------- check_ssl_cert (stdout, exit code)

CSC_OK = (
    "SSL_CERT OK - 10.213.0.11:25, smtp, x509 certificate 'mail.mx1.mailcert.test' ( smtp.mx1.mailcert.test) "
    "from 'mailcert lab' valid until Mar  3 14:35:16 2027 GMT (expires in 88 days)"
    "|days_chain_elem1=88;20;15;; days_chain_elem2=1824;20;15;;\n"
)
CSC_EXPIRED = (
    "SSL_CERT CRITICAL mail.mx2.mailcert.test:smtp: x509 certificate element 1 (mail.mx2.mailcert.test) is "
    "expired (was valid until Nov 24 14:35:16 2026 GMT, 10 days ago)|days_chain_elem1=-10;20;15;; "
    "days_chain_elem2=1824;20;15;; \n"
)
CSC_NAME = (
    "SSL_CERT CRITICAL mail.mx3.mailcert.test:imaps: 'imap.mx3.mailcert.test' does not match the CN nor an "
    "alternative name|days_chain_elem1=88;20;15;; days_chain_elem2=1824;20;15;; \n"
)
# Two lines: openssl's two verify errors, then the performance data.
CSC_LEAF_ONLY = (
    "SSL_CERT CRITICAL mail.mx4.mailcert.test:smtp: Cannot verify certificate: unable to get local issuer "
    "certificate\nunable to verify the first certificate|days_chain_elem1=88;20;15;; \n"
)
CSC_SELF_SIGNED = (
    "SSL_CERT CRITICAL mail.mx1.mailcert.test:imaps: Cannot verify certificate, self signed certificate"
    "|days_chain_elem1=364;20;15;; \n"
)
# mx5 asked for imap.<domain>: check_ssl_cert stops at the name and never says "self signed".
CSC_SELF_SIGNED_AND_NAME = (
    "SSL_CERT CRITICAL mail.mx5.mailcert.test:imap: 'imap.mx5.mailcert.test' does not match the CN nor an "
    "alternative name|days_chain_elem1=364;20;15;; \n"
)
CSC_REFUSED = "SSL_CERT CRITICAL 127.0.0.1:smtp: Connection refused \n"


@pytest.mark.parametrize(
    ("stdout", "code", "problems"),
    [
        (CSC_OK, 0, set()),
        (CSC_EXPIRED, 2, {EXPIRED}),
        (CSC_NAME, 2, {NAME_MISMATCH}),
        (CSC_LEAF_ONLY, 2, {UNTRUSTED}),
        (CSC_SELF_SIGNED, 2, {SELF_SIGNED}),
        (CSC_SELF_SIGNED_AND_NAME, 2, {NAME_MISMATCH}),
        (CSC_REFUSED, 2, {NO_TLS}),
    ],
)
def test_check_ssl_cert(stdout: str, code: int, problems: set[str]) -> None:
    assert peers.parse_check_ssl_cert(stdout, "", code, "").problems == problems


def test_check_ssl_cert_said_is_the_status_without_performance_data() -> None:
    said = peers.parse_check_ssl_cert(CSC_LEAF_ONLY, "", 2, "").said
    assert said.endswith("unable to get local issuer certificate unable to verify the first certificate")
    assert "days_chain" not in said


def test_check_ssl_cert_unknown_critical_is_other() -> None:
    verdict = peers.parse_check_ssl_cert("SSL_CERT CRITICAL h:smtp: some new complaint|x=1\n", "", 2, "")
    assert verdict.problems == frozenset()
    assert verdict.other == ("some new complaint",)


# ---------------------------------------------------------------- testssl.sh flat JSON (findings kept verbatim)


def _testssl(*findings: tuple[str, str, str]) -> str:
    return json.dumps(
        [{"id": i, "ip": "x/10.213.0.11", "port": "25", "severity": s, "finding": f} for i, s, f in findings]
    )


TESTSSL_COMMON = (
    ("engine_problem", "WARN", "No engine or GOST support via engine with your /usr/bin/openssl"),
    ("service", "INFO", "smtp"),
    ("cert_revocation", "HIGH", "Neither CRL nor OCSP URI provided"),
    ("OCSP_stapling", "INFO", "not offered"),
)
TESTSSL_OK = _testssl(
    *TESTSSL_COMMON,
    ("cert_trust", "OK", "Ok via SAN (same w/o SNI)"),
    ("cert_chain_of_trust", "OK", "passed."),
    ("cert_expirationStatus", "OK", "88 >= 60 days"),
    ("cert_notAfter", "OK", "2027-03-03 14:35"),
)
TESTSSL_EXPIRED = _testssl(
    *TESTSSL_COMMON,
    ("cert_trust", "OK", "Ok via SAN (same w/o SNI)"),
    ("cert_chain_of_trust", "CRITICAL", "failed (expired)."),
    ("cert_expirationStatus", "CRITICAL", "expired"),
    ("cert_notAfter", "CRITICAL", "2026-11-24 14:35"),
)
TESTSSL_NAME = _testssl(
    *TESTSSL_COMMON,
    ("cert_trust", "HIGH", "certificate does not match supplied URI (same w/o SNI)"),
    ("cert_chain_of_trust", "OK", "passed."),
    ("cert_expirationStatus", "OK", "88 >= 60 days"),
)
TESTSSL_LEAF_ONLY = _testssl(
    *TESTSSL_COMMON,
    ("cert_trust", "OK", "Ok via SAN (same w/o SNI)"),
    ("cert_chain_of_trust", "CRITICAL", "failed (chain incomplete)."),
)
TESTSSL_SELF_SIGNED_AND_NAME = _testssl(
    *TESTSSL_COMMON,
    ("cert_trust", "HIGH", "certificate does not match supplied URI (same w/o SNI)"),
    ("cert_chain_of_trust", "CRITICAL", "failed (self signed)."),
)
TESTSSL_REFUSED = _testssl(
    ("engine_problem", "WARN", "No engine or GOST support via engine with your /usr/bin/openssl"),
    (
        "scanProblem",
        "FATAL",
        "Can't connect to '127.0.0.1:1' Make sure a firewall is not between you and your scanning target!",
    ),
    ("scanTime", "WARN", "Scan interrupted"),
)


@pytest.mark.parametrize(
    ("scratch", "problems"),
    [
        (TESTSSL_OK, set()),
        (TESTSSL_EXPIRED, {EXPIRED}),
        (TESTSSL_NAME, {NAME_MISMATCH}),
        (TESTSSL_LEAF_ONLY, {INCOMPLETE_CHAIN}),
        (TESTSSL_SELF_SIGNED_AND_NAME, {SELF_SIGNED, NAME_MISMATCH}),
        (TESTSSL_REFUSED, {NO_TLS}),
        ("", {NO_TLS}),  # no JSON file at all
    ],
)
def test_testssl(scratch: str, problems: set[str]) -> None:
    assert peers.parse_testssl("", "", 0, scratch).problems == problems


def test_testssl_revocation_complaint_is_other_not_a_planted_fault() -> None:
    verdict = peers.parse_testssl("", "", 0, TESTSSL_OK)
    assert verdict.other == ("cert_revocation HIGH: Neither CRL nor OCSP URI provided",)


# ---------------------------------------------------------------- sslyze 6 JSON (validation results verbatim)

NO_CANDIDATES = "validation failed: candidates exhausted: all candidates exhausted with no interior errors"


def _sslyze(supplied_error: str | None, mozilla_error: str | None = NO_CANDIDATES) -> str:
    def store(name: str, error: str | None) -> dict[str, Any]:
        return {
            "trust_store": {"name": name},
            "validation_error": error,
            "was_validation_successful": error is None,
        }

    deployment = {
        "received_certificate_chain": [],
        "path_validation_results": [
            store("Mozilla", mozilla_error),
            store("Supplied CA file", supplied_error),
        ],
    }
    result = {"certificate_deployments": [deployment]}
    server = {
        "connectivity_status": "COMPLETED",
        "connectivity_error_trace": None,
        "scan_status": "COMPLETED",
        "scan_result": {"certificate_info": {"status": "COMPLETED", "error_reason": None, "result": result}},
    }
    return json.dumps({"server_scan_results": [server]})


SSLYZE_EXPIRED = (
    "validation failed: cert is not valid at validation time (encountered processing "
    "<Certificate(subject=<Name(CN=mail.mx2.mailcert.test)>, ...)>)"
)
SSLYZE_NAME = (
    "validation failed: leaf certificate has no matching subjectAltName (encountered processing "
    "<Certificate(subject=<Name(CN=mail.mx3.mailcert.test)>, ...)>)"
)
# The lab's self-signed certificate asserts CA:TRUE; sslyze (cryptography's verifier) says so, not "self-signed".
SSLYZE_SELF_SIGNED = (
    "validation failed: basicConstraints.cA must not be asserted in an EE certificate (encountered processing "
    "<Certificate(subject=<Name(CN=mail.mx1.mailcert.test)>, ...)>)"
)
SSLYZE_REFUSED = json.dumps(
    {
        "server_scan_results": [
            {
                "connectivity_status": "ERROR",
                "connectivity_error_trace": 'Traceback (most recent call last):\n  File "x.py", line 1, in run\n'
                'sslyze.errors.ServerRejectedConnection: x.test:1 -> "Server rejected the connection".\n',
                "scan_status": "ERROR_NO_CONNECTIVITY",
                "scan_result": None,
            }
        ]
    }
)


@pytest.mark.parametrize(
    ("scratch", "problems"),
    [
        (_sslyze(None), set()),  # the public stores fail (they cannot know the lab root): not counted
        (_sslyze(SSLYZE_EXPIRED, SSLYZE_EXPIRED), {EXPIRED}),
        (_sslyze(SSLYZE_NAME, SSLYZE_NAME), {NAME_MISMATCH}),
        (_sslyze(NO_CANDIDATES), {UNTRUSTED}),  # leaf only: sslyze cannot say why
        (_sslyze(SSLYZE_SELF_SIGNED, SSLYZE_SELF_SIGNED), {UNTRUSTED}),
        (SSLYZE_REFUSED, {NO_TLS}),
        ("", {NO_TLS}),
    ],
)
def test_sslyze(scratch: str, problems: set[str]) -> None:
    assert peers.parse_sslyze("", "", 0, scratch).problems == problems


def test_sslyze_refused_says_the_exception() -> None:
    assert peers.parse_sslyze("", "", 0, SSLYZE_REFUSED).said.startswith(
        "sslyze.errors.ServerRejectedConnection"
    )


# ---------------------------------------------------------------- scoring and mailcert's own verdicts


@pytest.mark.parametrize(
    ("fault", "problems", "outcome"),
    [
        (None, set(), "clean"),
        (None, {UNTRUSTED}, "false-alarm"),
        ("expired", {EXPIRED}, "hit"),
        ("expired", set(), "miss"),
        ("leaf-only", {INCOMPLETE_CHAIN}, "hit"),
        ("leaf-only", {UNTRUSTED}, "vague"),
        ("self-signed", {UNTRUSTED}, "vague"),
        ("self-signed", {NAME_MISMATCH}, "other"),
        ("name-mismatch", {UNTRUSTED}, "other"),  # "untrusted" is no credit for a name mismatch
    ],
)
def test_score(fault: str | None, problems: set[str], outcome: str) -> None:
    assert peers.score(fault, Verdict(frozenset(problems))) == outcome


def test_mailcert_verdict_maps_check_ids() -> None:
    verdict = peers.mailcert_verdict(["cert.chain-incomplete", "cert.untrusted", "cert.weak-key"])
    assert verdict.problems == {INCOMPLETE_CHAIN, UNTRUSTED}
    assert verdict.other == ("cert.weak-key",)


def test_cli_checks_per_port() -> None:
    report = {
        "hosts": [
            {
                "findings": [
                    {"check": "cert.expired", "port": 25},
                    {"check": "cert.name-mismatch", "port": 993},
                ]
            },
            {"findings": [{"check": "tls.unreachable", "port": 25}]},
        ]
    }
    assert probe_bench.cli_checks(json.dumps(report)) == {
        25: ["cert.expired", "tls.unreachable"],
        993: ["cert.name-mismatch"],
    }


def test_peer_commands_trust_the_lab_ca_and_use_the_lab_address(tmp_path: Any) -> None:
    bundle = tmp_path / "ca-bundle.pem"
    scratch = tmp_path / "out.json"
    starttls = Endpoint("mx1", "10.213.0.11", 143, "imap.mx1.mailcert.test", "imap", True, None)
    implicit = Endpoint("mx1", "10.213.0.11", 995, "pop.mx1.mailcert.test", "pop3", False, None)
    for peer in peers.PEERS:
        argv = peer.argv(starttls, bundle, scratch)
        assert str(bundle) in argv, peer.name
        assert any("10.213.0.11" in a for a in argv), peer.name
        assert any("imap.mx1.mailcert.test" in a for a in argv), peer.name
    assert peers.testssl_argv(starttls, bundle, scratch)[-3:] == ["-t", "imap", "imap.mx1.mailcert.test:143"]
    assert "-t" not in peers.testssl_argv(implicit, bundle, scratch)
    assert (
        peers.check_ssl_cert_argv(implicit, bundle, scratch)[
            peers.check_ssl_cert_argv(implicit, bundle, scratch).index("-P") + 1
        ]
        == "pop3s"
    )
    assert peers.sslyze_argv(implicit, bundle, scratch)[-1] == "pop.mx1.mailcert.test:995{10.213.0.11}"
    assert peers.openssl_argv(starttls, bundle, scratch)[-2:] == ["-starttls", "imap"]


def test_without_dns_binds_a_loopback_resolver_in_a_private_mount_namespace(tmp_path: Any) -> None:
    resolv = tmp_path / "resolv.conf"
    argv = peers.without_dns(["testssl", "--quiet", "x.test:25"], resolv)
    assert argv[:4] == ["unshare", "--mount", "--propagation", "private"]
    assert argv[-4:] == [str(resolv), "testssl", "--quiet", "x.test:25"]
    assert 'mount --bind "$0" /etc/resolv.conf && exec "$@"' in argv
    assert peers.NO_DNS_RESOLV == "nameserver 127.0.0.1\n"
    assert [p.name for p in peers.PEERS if not p.no_dns] == ["openssl s_client"]
