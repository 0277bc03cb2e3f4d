"""Hostile names from an inventory (mailcert_hostnames) or a host's config reach the probe as SNI and as
the name to check: a real TLS listener on 127.0.0.1 answers, and every such name gives a probe result
(never an exception), with no canary file made."""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcert.model import Mode
from mailcert.probe import ProbeResult, Timeouts, target_for
from mailcert.probe.session import probe_endpoint
from tests.pki import TestPKI

HOSTILE_NAMES = [
    "$(touch {canary})",
    "`touch {canary}`",
    "mail.example.test;touch {canary}",
    "mail.example.test\nEHLO evil",
    "mail.example.test\r\n. LOGOUT",
    "x" * 300,
    "a" * 64 + ".example.test",
    "",
    ".",
    "nul\x00.example.test",
    "\x1b[31m.example.test",
    "bücher.example.test",
    "*.example.test",
    "[::1]",
    "127.0.0.1",
    "-leading.example.test",
]


@pytest.fixture(scope="module")
def imaps_port() -> Iterator[int]:
    """An implicit-TLS IMAP greeter on a free loopback port (the test PKI's leaf, any SNI accepted)."""
    pki = TestPKI("Probe")
    leaf = pki.leaf(["mail.example.test"])
    folder = Path(tempfile.mkdtemp(prefix="mailcert-probe-"))
    (folder / "cert.pem").write_bytes(pki.bundle(leaf))
    (folder / "key.pem").write_bytes(leaf.key_pem())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    tls.settimeout(2)
                    tls.sendall(b"* OK ready\r\n")
                    while tls.recv(4096):
                        tls.sendall(b"* BYE\r\n")
                        break
            except OSError:
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize("pattern", HOSTILE_NAMES)
def test_hostile_name_gives_a_probe_result(imaps_port: int, tmp_path: Path, pattern: str) -> None:
    canary = tmp_path / "canary"
    name = pattern.format(canary=canary)
    target = target_for(name, imaps_port, address="127.0.0.1", protocol="imap", mode=Mode.IMPLICIT)
    result = probe_endpoint(target, timeouts=Timeouts(connect=2, read=2, endpoint=6))
    assert isinstance(result, ProbeResult)
    assert not canary.exists()
