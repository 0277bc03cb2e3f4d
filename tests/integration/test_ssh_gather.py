"""Gather over a REAL sshd from a tree planted in tmp: one exec per host, the same facts lint reads locally,
and — the key test — no byte of any private key in anything the control machine receives."""

from __future__ import annotations

import base64
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.gather.document import parse_document
from mailcert.gather.host import GatheredHost
from mailcert.gather.program import gather_argv
from mailcert.gather.remote import gather_host
from mailcert.hostfs import LocalRoot
from mailcert.inventory.model import Secret
from mailcert.pki.trust import TrustStore
from mailcert.ssh import StrictConnection
from tests.integration import sshd_fixture
from tests.integration.sshd_fixture import Sshd
from tests.pki import NOW, TestPKI, cert_pem

pytestmark = sshd_fixture.NEEDS_ROOT
sshd = sshd_fixture.sshd
sudo_user = sshd_fixture.sudo_user

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Planted:
    root: Path
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    secret_texts: list[str]  # PEM texts, base64 lines, private numbers in hex and decimal
    secret_ders: list[bytes]  # DER encodings of the private keys


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, fmt: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def _der(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, fmt: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())


def plant(root: Path) -> Planted:
    """A Postfix + Dovecot + certbot host whose keys sit in every place a key can hide."""
    pki = TestPKI()
    leaf = pki.leaf(["mail.example.test"], key="rsa")
    rsa_key = leaf.key
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    dovecot_leaf = pki.leaf(["imap.example.test"], key="ec")
    ec_key = dovecot_leaf.key
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    pkcs8, trad = serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL

    def write(path: str, data: bytes | str, mode: int = 0o644) -> None:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        target.chmod(mode)

    archive = "/etc/letsencrypt/archive/mail.example.test"
    write(f"{archive}/cert1.pem", leaf.pem)
    write(f"{archive}/chain1.pem", cert_pem(pki.intermediate.cert))
    write(f"{archive}/fullchain1.pem", pki.bundle(leaf))
    write(f"{archive}/privkey1.pem", _pem(rsa_key, pkcs8), 0o600)
    live = root / "etc/letsencrypt/live/mail.example.test"
    live.mkdir(parents=True)
    for name in ("cert", "chain", "fullchain", "privkey"):
        (live / f"{name}.pem").symlink_to(f"../../archive/mail.example.test/{name}1.pem")
    write(
        "/etc/letsencrypt/renewal/mail.example.test.conf",
        f"version = 2.1.0\narchive_dir = {archive}\ncert = /etc/letsencrypt/live/mail.example.test/cert.pem\n"
        "privkey = /etc/letsencrypt/live/mail.example.test/privkey.pem\n"
        "chain = /etc/letsencrypt/live/mail.example.test/chain.pem\n"
        "fullchain = /etc/letsencrypt/live/mail.example.test/fullchain.pem\n[renewalparams]\n"
        "authenticator = standalone\n",
    )
    write("/etc/ssl/private/combined.pem", _pem(rsa_key, trad) + leaf.pem + pki.fullchain_of, 0o640)
    write("/etc/ssl/private/crlf.key", _pem(ec_key, pkcs8).replace(b"\n", b"\r\n"), 0o600)
    write("/etc/ssl/private/mail.der", _der(rsa_key, pkcs8), 0o600)
    body = _pem(ec_key, trad).decode().splitlines()
    write("/etc/ssl/private/broken.key", "\n".join(body[:-1]) + "\n", 0o600)  # BEGIN without END
    write(
        "/etc/ssl/private/enc.key",
        rsa_key.private_bytes(
            serialization.Encoding.PEM, pkcs8, serialization.BestAvailableEncryption(b"pw")
        ),
        0o600,
    )
    write(
        "/etc/ssl/private/trad-enc.key",
        ec_key.private_bytes(serialization.Encoding.PEM, trad, serialization.BestAvailableEncryption(b"pw")),
        0o600,
    )
    write("/etc/ssl/certs/dovecot.pem", pki.bundle(dovecot_leaf))
    write("/etc/dovecot/private/dovecot.key", _pem(ec_key, trad), 0o600)
    write("/etc/postfix/not-really-a.cf", _pem(ec_key, pkcs8))  # a key in a file named like config
    write(
        "/etc/postfix/main.cf",
        "myhostname = mail.example.test\n"
        "smtpd_tls_cert_file = /etc/letsencrypt/live/mail.example.test/fullchain.pem\n"
        "smtpd_tls_key_file = /etc/letsencrypt/live/mail.example.test/privkey.pem\n"
        "smtpd_tls_security_level = may\n"
        "tls_server_sni_maps = hash:/etc/postfix/sni_map\n"
        "smtp_tls_CAfile = /etc/ssl/private/combined.pem\n"
        "# referenced so gather must look at them: /etc/ssl/private/crlf.key /etc/ssl/private/mail.der\n"
        "# /etc/ssl/private/broken.key /etc/ssl/private/enc.key /etc/ssl/private/trad-enc.key\n",
    )
    write("/etc/postfix/master.cf", "smtp      inet  n       -       y       -       -       smtpd\n")
    write(
        "/etc/postfix/sni_map",
        "imap.example.test /etc/dovecot/private/dovecot.key /etc/ssl/certs/dovecot.pem\n",
    )
    write(
        "/etc/dovecot/dovecot.conf",
        "protocols = imap\nssl = required\nssl_cert = </etc/ssl/certs/dovecot.pem\n"
        "ssl_key = </etc/dovecot/private/dovecot.key\n!include_try conf.d/*.conf\n",
    )
    write("/etc/dovecot/conf.d/10-auth.conf", "disable_plaintext_auth = yes\n")
    write("/etc/services", "smtp 25/tcp\nsubmission 587/tcp\nimap2 143/tcp imap\nimaps 993/tcp\n")

    texts: list[str] = []
    ders: list[bytes] = []
    public = _spki(rsa_key) + _spki(ec_key)
    for key in (rsa_key, ec_key):
        for fmt in (pkcs8, trad):
            pem = _pem(key, fmt).decode()
            texts.append(pem)
            # every base64 line, except one that only encodes public bytes (SEC1 ends with the public point)
            texts += [
                line
                for line in pem.splitlines()
                if not line.startswith("-----") and base64.b64decode(line)[1:] not in public
            ]
            ders.append(_der(key, fmt))
    numbers = rsa_key.private_numbers()
    for secret in (numbers.d, numbers.p, numbers.q, ec_key.private_numbers().private_value):
        texts += [f"{secret:x}", f"{secret:X}", str(secret)]
        ders.append(secret.to_bytes((secret.bit_length() + 7) // 8, "big"))
    return Planted(root, rsa_key, ec_key, texts, ders)


@pytest.fixture
def planted(tmp_path: Path) -> Planted:
    return plant(tmp_path / "host")


def _spki(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(*SPKI)


def _gather(sshd: Sshd, root: Path) -> tuple[GatheredHost, str, str]:
    """The gathered host and the raw stdout/stderr the control machine received."""
    conn = StrictConnection(sshd.host())
    try:
        output = conn.execute_as_root(gather_argv(str(root)))
    finally:
        conn.close()
    return GatheredHost.from_output(output.stdout, name="mx-test"), output.stdout, output.stderr


def test_gather_is_one_exec_and_reads_the_planted_host(sshd: Sshd, planted: Planted) -> None:
    before = sshd.exec_requests()
    conn = StrictConnection(sshd.host())
    try:
        gathered = gather_host(conn, root=str(planted.root))
    finally:
        conn.close()
    assert sshd.exec_requests() - before == 1  # counted on the sshd side
    assert conn.exec_count == 1
    assert gathered.clock is not None and gathered.meta("uid") == "0"
    privkey = gathered.pem_file("/etc/letsencrypt/live/mail.example.test/privkey.pem")
    assert privkey.resolved == "/etc/letsencrypt/archive/mail.example.test/privkey1.pem"
    assert privkey.mode == 0o600
    assert [k.public_key_der for k in privkey.keys] == [_spki(planted.rsa)]
    combined = gathered.pem_file("/etc/ssl/private/combined.pem")
    assert [b.kind.value for b in combined.blocks] == ["private-key", "certificate", "certificate"]
    assert combined.keys[0].public_key_der == _spki(planted.rsa)
    assert gathered.pem_file("/etc/ssl/private/crlf.key").keys[0].public_key_der == _spki(planted.ec)
    assert gathered.pem_file("/etc/ssl/private/enc.key").keys[0].encrypted
    assert gathered.pem_file("/etc/ssl/private/trad-enc.key").keys[0].encrypted
    assert "DER" in (gathered.pem_file("/etc/ssl/private/mail.der").pem_error or "")
    assert "broken PEM block" in (gathered.pem_file("/etc/ssl/private/broken.key").pem_error or "")
    sni = gathered.read_config("/etc/postfix/sni_map").text
    assert sni is not None and "imap.example.test" in sni


def test_gathered_files_equal_what_lint_reads_from_a_copy(sshd: Sshd, planted: Planted) -> None:
    conn = StrictConnection(sshd.host())
    try:
        gathered = gather_host(conn, root=str(planted.root))
    finally:
        conn.close()
    local = LocalRoot(planted.root)
    files = sorted(
        "/" + str(p.relative_to(planted.root))
        for p in planted.root.rglob("*")
        if p.is_file() or p.is_symlink()
    )
    assert len(files) > 20
    for path in files:
        here, there = local.pem_file(path), gathered.pem_file(path)
        # gather sends whole seconds (portable `stat -c %Y`); everything else must be identical
        assert replace(there, mtime=None) == replace(here, mtime=None), path
        assert int(there.mtime or 0) == int(here.mtime or 0)
    for path in (
        "/etc/postfix/main.cf",
        "/etc/postfix/master.cf",
        "/etc/dovecot/dovecot.conf",
        "/etc/services",
    ):
        assert gathered.read_config(path).text == local.read_config(path).text
    assert gathered.glob("/etc/dovecot/conf.d/*.conf") == local.glob("/etc/dovecot/conf.d/*.conf")
    assert gathered.listdir("/etc/letsencrypt/live") == local.listdir("/etc/letsencrypt/live")
    # lint of the copied tree = audit of the host
    options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.load([])))
    assert lint_host(gathered, name="h", options=options) == lint_host(local, name="h", options=options)


def test_no_private_key_byte_reaches_the_control_machine(sshd: Sshd, planted: Planted) -> None:
    gathered, stdout, stderr = _gather(sshd, planted.root)
    document = parse_document(stdout)
    bodies = [record.body for record in document.records]
    # what base64 in certificate blocks decodes to, too (a key must not hide inside a "certificate")
    nested = [
        base64.b64decode(b"".join(m.group(1).split()))
        for body in bodies
        for m in re.finditer(rb"-----BEGIN [A-Z ]+-----\r?\n(.*?)-----END", body, re.DOTALL)
    ]
    received_text = stdout + stderr + "".join(b.decode("latin-1") for b in bodies)
    received_bytes = stdout.encode() + stderr.encode() + b"".join(bodies) + b"".join(nested)
    assert "PRIVATE KEY-----" not in received_text.replace("%KEY", "")
    for secret in planted.secret_texts:
        assert secret not in received_text
    public = _spki(planted.rsa) + _spki(planted.ec)
    for der in planted.secret_ders:
        for start in range(0, max(1, len(der) - 16)):
            window = der[start : start + 16]
            if window in public:
                continue  # the public half (modulus, point) is meant to be sent
            assert window not in received_bytes, f"16 bytes of a private key at offset {start}"
    # and the facts still say what each key is
    assert gathered.pem_file("/etc/dovecot/private/dovecot.key").keys[0].public_key_der == _spki(planted.ec)
    assert gathered.pem_file("/etc/postfix/not-really-a.cf").keys[0].public_key_der == _spki(planted.ec)
    # a config-named file with a key in it: its text arrives with the block's lines blanked
    pasted = gathered.read_config("/etc/postfix/not-really-a.cf").text
    assert pasted is not None and pasted.strip() == "" and pasted.count("\n") == 5


def test_gather_through_sudo_is_still_one_exec(
    sshd: Sshd, sudo_user: tuple[str, str], planted: Planted
) -> None:
    name, password = sudo_user
    planted.root.chmod(0o755)
    host = sshd.host(user=name, become=True, become_password=Secret(password))
    before = sshd.exec_requests()
    conn = StrictConnection(host)
    try:
        gathered = gather_host(conn, root=str(planted.root))
    finally:
        conn.close()
    assert sshd.exec_requests() - before == 1
    assert gathered.meta("uid") == "0"  # ran as root: the 0600 key was readable and reduced on the host
    assert gathered.pem_file("/etc/ssl/private/crlf.key").keys[0].public_key_der == _spki(planted.ec)


def test_gather_as_unprivileged_user_says_why_keys_are_unreadable(
    sshd: Sshd, sudo_user: tuple[str, str]
) -> None:
    name, _ = sudo_user
    base = Path(tempfile.mkdtemp(prefix="mailcert-unprivileged-"))
    try:
        base.chmod(0o755)
        planted = plant(base / "host")
        for folder in [planted.root, *planted.root.rglob("*")]:
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        conn = StrictConnection(sshd.host(user=name))  # no become: the SSH user reads what it may
        try:
            gathered = gather_host(conn, root=str(planted.root))
        finally:
            conn.close()
        assert gathered.meta("uid") != "0"
        key = gathered.pem_file("/etc/ssl/private/crlf.key")
        assert key.exists and key.mode == 0o600
        assert "not root: set ansible_become: true" in (key.error or "")
        assert gathered.pem_file("/etc/ssl/certs/dovecot.pem").certificates  # world-readable: still read
    finally:
        shutil.rmtree(base, ignore_errors=True)
