"""What Dovecot 2.4.1 itself serves when several filter blocks match (`doveconf -f` does not always say).

For each case of tests/dovecot24_order.py a private Dovecot 2.4.1 (the Debian 13 root's, tests/debian13.py)
listens for POP3 on a free port of 127.0.0.1 with a folder of its own under /tmp; the test sends STLS, asks for
the case's SNI name and reads which certificate comes back (each certificate's CN is its file name). mailcert
must name the same file, and so must the recorded `served` the unit tests use.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from mailcert.hostfs import LocalRoot
from mailcert.services.dovecot.config import load_dovecot_config
from tests.debian13 import debian13_argv, require_debian13, run_debian13
from tests.dovecot24_order import CERTS, GLOBAL, ORDER_CASES, OrderCase
from tests.pki import PrivateKey, TestPKI, cert_pem, key_pem, new_key

pytestmark = pytest.mark.oracle

_LABELS = ("g", "proto", "lname", "both", "l32", "l8", "wild")
_BASE = """dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/log
listen = 127.0.0.1
protocols {{
  pop3 = yes
}}
ssl = yes
ssl_server_key_file = {folder}/key.pem
passdb static {{
  password = not-used
}}
service anvil {{
  chroot =
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """Certificates named by their CN over one key; world-searchable so that Dovecot's login user reaches run/."""
    require_debian13()
    path = Path(tempfile.mkdtemp(prefix="mailcert-dovecot24-", dir="/tmp"))
    path.chmod(0o755)
    pki = TestPKI()
    key = new_key("ec")
    (path / "key.pem").write_bytes(key_pem(key))
    for label in _LABELS:
        (path / f"{label}.pem").write_bytes(cert_pem(_certificate(pki, label, key)))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _certificate(pki: TestPKI, label: str, key: PrivateKey) -> x509.Certificate:
    """A certificate whose CN is `label`; all share `key` (the blocks under test set only the certificate)."""
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label)]))
        .issuer_name(pki.intermediate.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(pki.intermediate.cert.not_valid_before_utc)
        .not_valid_after(pki.intermediate.cert.not_valid_after_utc)
        .sign(pki.intermediate.key, hashes.SHA256())
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _served_cn(port: int, local_name: str | None) -> str:
    """The CN of the certificate Dovecot sends after STLS, asked with SNI `local_name` (None: no SNI)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with raw:
        reader = raw.makefile("rb")
        assert reader.readline().startswith(b"+OK"), "no POP3 greeting"
        raw.sendall(b"STLS\r\n")
        assert reader.readline().startswith(b"+OK"), "STLS refused"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with context.wrap_socket(raw, server_hostname=local_name) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@pytest.mark.parametrize("case", ORDER_CASES, ids=[c.id for c in ORDER_CASES])
def test_dovecot_serves_what_mailcert_says(folder: Path, tmp_path: Path, case: OrderCase) -> None:
    port = _free_port()
    for sub in ("run", "state"):
        shutil.rmtree(folder / sub, ignore_errors=True)
        (folder / sub).mkdir()
    conf = folder / "dovecot.conf"
    conf.write_text(
        _BASE.format(folder=folder, port=port) + (GLOBAL + case.blocks).replace(CERTS, f"{folder}/")
    )
    errors = folder / "start.err"
    with errors.open("w") as stderr:  # not a pipe: the daemon keeps it open and run() would wait on it
        started = subprocess.run(
            debian13_argv(["dovecot", "-c", str(conf)]), stdout=subprocess.DEVNULL, stderr=stderr, timeout=30
        )
    assert started.returncode == 0, errors.read_text()
    try:
        served = _served_cn(port, case.local_name)
    finally:
        run_debian13(["doveadm", "-c", str(conf), "stop"])
        _wait_stopped(folder)
    assert f"{CERTS}{served}.pem" == case.served

    tree = tmp_path / "etc/dovecot/dovecot.conf"
    tree.parent.mkdir(parents=True)
    tree.write_text(
        "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n" + GLOBAL + case.blocks
    )
    config = load_dovecot_config(LocalRoot(tmp_path))
    ours = config.value(
        "ssl_server_cert_file", local_name=case.local_name, local="127.0.0.1", protocol="pop3"
    )
    assert ours == case.served


def _wait_stopped(folder: Path) -> None:
    """Until the master's pid file is gone (the next case reuses the folder)."""
    pid_file = folder / "run" / "master.pid"
    deadline = time.monotonic() + 10
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_file.exists(), "Dovecot did not stop"
