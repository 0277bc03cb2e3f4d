"""EC keys with explicit curve parameters (OpenSSL refuses them in a chain: "Certificate public key has explicit
ECC parameters"), told from named-curve keys, also when id-ecPublicKey appears a second time elsewhere in the
certificate. The certificates are made by the openssl command line, which can write explicit parameters."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from mailcert.pki.der import has_explicit_ec_parameters
from mailcert.pki.strength import key_strength

# An extension whose value is id-ecPublicKey followed by prime256v1's OID: the bytes a named-curve key's
# AlgorithmIdentifier holds, in a place that is not the key's.
DECOY = "1.3.6.1.4.1.55555.1=DER:06072a8648ce3d020106082a8648ce3d030107"


def _certificate(tmp: Path, encoding: str, *extra: str) -> x509.Certificate:
    key, cert = tmp / f"{encoding}.key", tmp / f"{encoding}{len(extra)}.pem"
    subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-param_enc", encoding, "-genkey", "-out", str(key)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["openssl", "req", "-x509", "-key", str(key), "-subj", "/CN=mail.example.test", "-days", "2",
         "-out", str(cert), *extra],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return x509.load_pem_x509_certificate(cert.read_bytes())


@pytest.mark.parametrize("decoy", [(), ("-addext", DECOY)], ids=["plain", "oid-twice"])
def test_explicit_parameters_are_found(tmp_path: Path, decoy: tuple[str, ...]) -> None:
    cert = _certificate(tmp_path, "explicit", *decoy)
    assert has_explicit_ec_parameters(cert)
    assert key_strength(cert).unusable == "its EC public key has explicit curve parameters, not a named curve"


@pytest.mark.parametrize("decoy", [(), ("-addext", DECOY)], ids=["plain", "oid-twice"])
def test_a_named_curve_is_not_explicit(tmp_path: Path, decoy: tuple[str, ...]) -> None:
    cert = _certificate(tmp_path, "named_curve", *decoy)
    assert not has_explicit_ec_parameters(cert)
    assert key_strength(cert).unusable is None
