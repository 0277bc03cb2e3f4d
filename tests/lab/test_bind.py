"""The lab's BIND for central issuance: the TSIG policy lets the acme key change only the TXT record at
`_acme-challenge.NAME`, and a real certbot + certbot-dns-rfc2136 gets a certificate for a CSR from the
Pebble that validates DNS-01 through it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailcert.lab.bind import KEY_NAMES, LabBind
from tests.lab.central import CentralACME
from tests.lab.fixture import Lab, require_root

NAME = "mail.mx1.mailcert.test"


def _update(bind: LabBind, role: str, owner: str, rtype: str, value: str) -> str:
    ring = dns.tsigkeyring.from_text({KEY_NAMES[role]: bind.keys[role]})
    zone = f"_acme-challenge.{NAME}."
    update = dns.update.UpdateMessage(zone, keyring=ring, keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add(owner, 60, rtype, value)
    try:
        answer = dns.query.tcp(update, bind.listen, port=bind.port, timeout=5)
    except dns.tsig.PeerBadSignature:
        return "BADSIG"
    return dns.rcode.to_text(answer.rcode())


@pytest.fixture
def bind(tmp_path: Path) -> LabBind:
    require_root()
    server = LabBind(tmp_path / "bind")
    server.start([NAME, "imap.mx1.mailcert.test"])
    yield server  # type: ignore[misc]
    server.stop()


def test_tsig_policy_allows_only_the_challenge_txt(bind: LabBind) -> None:
    challenge = f"_acme-challenge.{NAME}."
    assert _update(bind, "acme", challenge, "TXT", '"token-1"') == "NOERROR"
    assert bind.txt(NAME) == ["token-1"]
    assert _update(bind, "acme", challenge, "A", "10.213.0.9") == "REFUSED"
    assert _update(bind, "acme", "www." + challenge, "TXT", '"x"') == "REFUSED"
    assert _update(bind, "denied", challenge, "TXT", '"token-2"') == "REFUSED"
    assert _update(bind, "wrong", challenge, "TXT", '"token-3"') == "BADSIG"
    assert bind.txt(NAME) == ["token-1"]
    for role in ("acme", "denied", "wrong"):
        assert bind.credentials(role).stat().st_mode & 0o777 == 0o600
        assert bind.keys[role] in bind.credentials(role).read_text()


def test_bind_answers_only_for_its_zones_without_forwarding(bind: LabBind) -> None:
    answer = dns.query.udp(dns.message.make_query(NAME, "A"), bind.listen, port=bind.port, timeout=2)
    assert dns.rcode.to_text(answer.rcode()) == "REFUSED"


def test_certbot_gets_a_certificate_for_a_csr_through_dns01(
    lab_session: Lab, central_acme: CentralACME, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "req.pem").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    certbot = Path(sys.executable).with_name("certbot")
    done = subprocess.run(
        [
            str(certbot), "certonly", "--non-interactive", "--agree-tos", "--email", "postmaster@mailcert.test",
            "--server", central_acme.directory, "--csr", str(tmp_path / "req.pem"),
            "--cert-path", str(tmp_path / "cert.pem"), "--chain-path", str(tmp_path / "chain.pem"),
            "--fullchain-path", str(tmp_path / "fullchain.pem"),
            "--preferred-challenges", "dns", "--dns-rfc2136",
            "--dns-rfc2136-credentials", str(central_acme.bind.credentials("acme")),
            "--dns-rfc2136-propagation-seconds", "1",
            "--config-dir", str(tmp_path / "le"), "--work-dir", str(tmp_path / "work"),
            "--logs-dir", str(tmp_path / "logs"),
        ],
        env={"PATH": "/usr/bin:/bin", "REQUESTS_CA_BUNDLE": str(central_acme.ca_bundle)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    leaf = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [NAME]
    assert "dns-01" in (tmp_path / "logs" / "letsencrypt.log").read_text()
