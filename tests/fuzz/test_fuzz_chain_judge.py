"""The chain judge on x509-limbo's certificates, mutated: it answers for every certificate cryptography can load.

Each example takes one limbo server case (read from ../shared/limbo at test time, as tests/oracle does), picks a
certificate of it (leaf, an intermediate or a root) and rewrites its extensions: drops, duplicates, flips
criticality, corrupts a value (bit flips, truncation, junk), adds an unknown extension, moves one extension's
value under another's OID; sometimes a byte of the whole DER is flipped instead. Whatever loads must be judged
(accepted, or refused with a first reason) and worded as findings by checks/certs.py, never an exception.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from mailcert.catalogue import Where
from mailcert.checks.certs import CheckOptions, check_chain
from mailcert.pki.der import children, encode, raw_extensions, read_tlv
from mailcert.pki.judge import judge_chain
from mailcert.pki.trust import TrustStore
from tests.fuzz.strategies import no_hang
from tests.oracle.test_limbo_oracle import _certs, _field, _limbo

_OIDS = [b"\x55\x1d\x11", b"\x55\x1d\x13", b"\x55\x1d\x0f", b"\x55\x1d\x1e", b"\x55\x1d\x25", b"\x2a\x03\x04"]


def _rebuild(cert: x509.Certificate, extensions: list[bytes]) -> bytes:
    tbs, _ = read_tlv(cert.tbs_certificate_bytes)
    parts = [p.encoded for p in children(tbs.value) if p.tag != 0xA3]
    if extensions:
        parts.append(encode(0xA3, encode(0x30, b"".join(extensions))))
    outer, _ = read_tlv(cert.public_bytes(Encoding.DER))
    return encode(
        0x30, encode(0x30, b"".join(parts)) + b"".join(f.encoded for f in children(outer.value)[1:])
    )


def _extension(oid: bytes, critical: bool, value: bytes) -> bytes:
    return encode(0x30, encode(0x06, oid) + (b"\x01\x01\xff" if critical else b"") + encode(0x04, value))


@st.composite
def mutated(draw: st.DrawFn, cert: x509.Certificate) -> bytes:
    der = cert.public_bytes(Encoding.DER)
    if draw(st.integers(0, 9)) == 0:  # a flipped byte anywhere
        at = draw(st.integers(0, len(der) - 1))
        return der[:at] + bytes([der[at] ^ draw(st.integers(1, 255))]) + der[at + 1 :]
    raw = raw_extensions(cert)
    encoded = [e.encoded for e in raw]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["drop", "dup", "critical", "corrupt", "unknown", "swap"]))
        if op == "unknown" or not encoded:
            encoded.append(
                _extension(draw(st.sampled_from(_OIDS)), draw(st.booleans()), draw(st.binary(max_size=20)))
            )
            continue
        index = draw(st.integers(0, len(encoded) - 1))
        fields = children(read_tlv(encoded[index])[0].value)
        oid, value = fields[0].value, fields[-1].value
        critical = len(fields) == 3
        if op == "drop":
            del encoded[index]
        elif op == "dup":
            encoded.insert(index, encoded[index])
        elif op == "critical":
            encoded[index] = _extension(oid, not critical, value)
        elif op == "corrupt":
            how = draw(st.sampled_from(["flip", "truncate", "junk"]))
            if how == "flip" and value:
                at = draw(st.integers(0, len(value) - 1))
                value = value[:at] + bytes([value[at] ^ draw(st.integers(1, 255))]) + value[at + 1 :]
            elif how == "truncate":
                value = value[: draw(st.integers(0, len(value)))]
            else:
                value = draw(st.binary(max_size=30))
            encoded[index] = _extension(oid, critical, value)
        else:
            encoded[index] = _extension(draw(st.sampled_from(_OIDS)), critical, value)
    return _rebuild(cert, encoded)


def _load(der: bytes) -> x509.Certificate | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return x509.load_der_x509_certificate(der)
        except ValueError:
            return None


@given(st.data())
def test_mutated_limbo_chains_are_judged_never_a_traceback(data: st.DataObject) -> None:
    cases = _limbo()["testcases"]
    case = data.draw(st.sampled_from(cases), label="case")
    roots = _certs(_field(case["trusted_certs"]))
    intermediates = _certs(_field(case["untrusted_intermediates"]))
    (leaf,) = _certs([case["peer_certificate"]])
    certs = [leaf, *intermediates, *roots]
    target = data.draw(st.integers(0, len(certs) - 1), label="certificate")
    changed = _load(data.draw(mutated(certs[target]), label="der"))
    if changed is None:
        return  # cryptography refuses it: the PEM checks report cert.unparsable before any chain is judged
    certs[target] = changed
    chain = certs[: 1 + len(intermediates)]
    trust = TrustStore.of(certs[1 + len(intermediates) :] or [leaf])
    peer = _field(case["expected_peer_name"])
    names = [peer["value"]] if peer else ["example.com"]
    when = _field(case["validation_time"])
    now = datetime.fromisoformat(when) if when else datetime.now(UTC)
    with no_hang():
        judgement = judge_chain(chain, trust, now=now, hostnames=names)
        findings = check_chain(
            chain, names, CheckOptions(now=now, trust=trust), Where(service="smtp", port=25)
        )
    assert judgement.accepted is (judgement.reason is None)
    assert all(f.message and "\n" not in f.check for f in findings)
