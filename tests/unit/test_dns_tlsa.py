"""DANE TLSA matching. Expected digests come from the openssl CLI (the commands RFC 7671 users run),
not from the code under test."""

from __future__ import annotations

import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailcert.dns.discover import DomainDiscovery, TlsaSet
from mailcert.dns.records import TlsaRecord, tlsa_records
from mailcert.dns.rollover import DanePins, dane_pins, reuse_key, rollover_records
from mailcert.dns.tlsa import next_tlsa_record, tlsa_matches, tlsa_pins_certificate, tlsa_pins_key, usable
from tests.pki import TestPKI, cert_pem


def _openssl(args: list[str], data: bytes) -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def spki_sha256(pem: bytes) -> str:
    """openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256"""
    pub = _openssl(["x509", "-noout", "-pubkey"], pem)
    der = _openssl(["pkey", "-pubin", "-outform", "DER"], pub)
    return _openssl(["dgst", "-sha256", "-r"], der).split()[0].decode()


def cert_sha256(pem: bytes) -> str:
    """openssl x509 -outform DER | openssl dgst -sha256"""
    der = _openssl(["x509", "-outform", "DER"], pem)
    return _openssl(["dgst", "-sha256", "-r"], der).split()[0].decode()


def cert_sha512_spki(pem: bytes) -> str:
    pub = _openssl(["x509", "-noout", "-pubkey"], pem)
    der = _openssl(["pkey", "-pubin", "-outform", "DER"], pub)
    return _openssl(["dgst", "-sha512", "-r"], der).split()[0].decode()


PKI = TestPKI("DANE")
LEAF = PKI.leaf(["mail.example.test"])
RENEWED_NEW_KEY = PKI.leaf(["mail.example.test"])
CHAIN = [LEAF.cert, PKI.intermediate.cert]


def _record(text: str) -> TlsaRecord:
    (record,) = tlsa_records((text,))
    return record


def test_dane_ee_spki_and_cert_records_from_openssl_match_the_leaf() -> None:
    leaf_pem = cert_pem(LEAF.cert)
    assert tlsa_matches(_record(f"3 1 1 {spki_sha256(leaf_pem)}"), CHAIN)
    assert tlsa_matches(_record(f"3 0 1 {cert_sha256(leaf_pem).upper()}"), CHAIN)
    assert tlsa_matches(_record(f"3 1 2 {cert_sha512_spki(leaf_pem)}"), CHAIN)


def test_dane_ta_matches_the_served_intermediate_not_the_leaf() -> None:
    issuer = _record(f"2 1 1 {spki_sha256(cert_pem(PKI.intermediate.cert))}")
    assert tlsa_matches(issuer, CHAIN)
    assert not tlsa_matches(issuer, [LEAF.cert])  # the TA must be served (RFC 7671 §5.2.2)
    leaf_as_ta = _record(f"2 1 1 {spki_sha256(cert_pem(LEAF.cert))}")
    assert not tlsa_matches(leaf_as_ta, CHAIN)


def test_renewal_with_a_new_key_breaks_3_1_1_and_any_renewal_breaks_3_0_1() -> None:
    pinned_key = _record(f"3 1 1 {spki_sha256(cert_pem(LEAF.cert))}")
    pinned_cert = _record(f"3 0 1 {cert_sha256(cert_pem(LEAF.cert))}")
    assert not tlsa_matches(pinned_key, [RENEWED_NEW_KEY.cert, PKI.intermediate.cert])
    same_key = PKI.leaf(["mail.example.test"])
    # A renewal that keeps the key (certbot --reuse-key): the same public key, signed again.
    kept = (
        x509.CertificateBuilder()
        .subject_name(same_key.cert.subject)
        .issuer_name(PKI.intermediate.cert.subject)
        .public_key(LEAF.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(same_key.cert.not_valid_before_utc)
        .not_valid_after(same_key.cert.not_valid_after_utc)
        .sign(PKI.intermediate.key, hashes.SHA256())
    )
    assert tlsa_matches(pinned_key, [kept, PKI.intermediate.cert])
    assert not tlsa_matches(pinned_cert, [kept, PKI.intermediate.cert])
    assert tlsa_pins_key([pinned_key], LEAF.cert) and not tlsa_pins_key([pinned_cert], LEAF.cert)
    assert tlsa_pins_certificate([pinned_cert], LEAF.cert)


def test_next_record_is_the_3_1_1_record_openssl_computes() -> None:
    spki = RENEWED_NEW_KEY.cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    expected = spki_sha256(cert_pem(RENEWED_NEW_KEY.cert))
    assert (
        next_tlsa_record("mail.example.test", 25, spki)
        == f"_25._tcp.mail.example.test. IN TLSA 3 1 1 {expected}"
    )


def test_smtp_clients_ignore_pkix_usages_and_junk_records_are_skipped() -> None:
    assert not usable(_record(f"1 1 1 {spki_sha256(cert_pem(LEAF.cert))}"))  # RFC 7672 §3.1.3
    assert usable(_record(f"3 1 1 {spki_sha256(cert_pem(LEAF.cert))}"))
    assert tlsa_records(("3 1 1 not-hex", "garbage")) == []


def _discovery(records: tuple[str, ...], authenticated: bool) -> DomainDiscovery:
    tlsa = TlsaSet("mail.example.test", 25, tuple(tlsa_records(records)), authenticated)
    return DomainDiscovery("example.test", "recorded", mx_hosts=("mail.example.test",), tlsa=(tlsa,))


def test_planner_keeps_the_key_while_3_1_1_pins_it_and_prints_the_next_record() -> None:
    pinned = _discovery((f"3 1 1 {spki_sha256(cert_pem(LEAF.cert))}",), authenticated=True)
    pins = dane_pins([pinned], LEAF.cert)
    assert pins.key_pinned_at == ("_25._tcp.mail.example.test",) and pins.validated
    assert reuse_key(None, pins) is True and reuse_key(False, pins) is False  # explicit setting wins
    spki = RENEWED_NEW_KEY.cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert rollover_records(pins, spki) == [
        f"_25._tcp.mail.example.test. IN TLSA 3 1 1 {spki_sha256(cert_pem(RENEWED_NEW_KEY.cert))}"
    ]


def test_planner_sees_3_0_1_pins_and_no_pins() -> None:
    cert_pin = _discovery((f"3 0 1 {cert_sha256(cert_pem(LEAF.cert))}",), authenticated=False)
    pins = dane_pins([cert_pin], LEAF.cert)
    assert (
        pins.cert_pinned_at == ("_25._tcp.mail.example.test",) and not pins.reuse_key and not pins.validated
    )
    other = _discovery((f"3 1 1 {spki_sha256(cert_pem(RENEWED_NEW_KEY.cert))}",), authenticated=True)
    assert dane_pins([other], LEAF.cert) == DanePins((), (), False)
