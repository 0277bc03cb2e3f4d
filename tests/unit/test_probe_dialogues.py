"""Probe dialogues against scripted servers on 127.0.0.1, for the corner cases real daemons will not produce:
a reversed chain, a SHA-1 intermediate, a TLS 1.0-only server, a server that closes after the greeting, one
that never answers, 421/454 replies, plaintext on an implicit-TLS port, and the per-host connection limit."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mailcert.checks.certs import CheckOptions
from mailcert.checks.served import check_probe
from mailcert.model import Mode
from mailcert.pki.trust import TrustStore
from mailcert.probe import Observed, ProbeResult, Timeouts, probe_all, probe_endpoint, target_for
from mailcert.probe.pool import ProbeMemo
from mailcert.probe.result import ProbeTarget
from tests.pki import NOW, Issued, TestPKI, _ca, cert_pem, new_key

FAST = Timeouts(connect=2, read=0.5, endpoint=3)
HOST = "mail.example.test"

Handler = Callable[[socket.socket, "FakeServer"], None]


class FakeServer:
    """A loopback TCP server running `handler` per connection in a thread; remembers SNI and concurrency."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sni: list[str | None] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []
        if tls is not None:
            tls.sni_callback = self._remember_sni
        threading.Thread(target=self._accept, daemon=True).start()

    def _remember_sni(self, _sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.sni.append(name)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            conn.settimeout(5)
            self.handler(conn, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.lock:
                self.active -= 1
            conn.close()

    def start_tls(self, conn: socket.socket) -> ssl.SSLSocket:
        assert self.tls is not None
        return self.tls.wrap_socket(conn, server_side=True)

    def close(self) -> None:
        self.release.set()
        self.listener.close()


@contextmanager
def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> Iterator[FakeServer]:
    server = FakeServer(handler, tls)
    try:
        yield server
    finally:
        server.close()


def lines(conn: socket.socket) -> Iterator[str]:
    buffer = b""
    while True:
        while b"\n" not in buffer:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buffer += chunk
        line, _, buffer = buffer.partition(b"\n")
        yield line.decode("latin-1").rstrip("\r")


def smtp_server(
    *,
    greeting: str = "220 mail.example.test ESMTP",
    ehlo: list[str] | None = None,
    starttls_reply: str = "220 2.0.0 Ready to start TLS",
) -> Handler:
    ehlo_lines = ehlo if ehlo is not None else ["250-mail.example.test", "250-PIPELINING", "250 STARTTLS"]

    def handle(conn: socket.socket, server: FakeServer) -> None:
        conn.sendall(greeting.encode() + b"\r\n")
        if not greeting.startswith("220"):
            return
        for line in lines(conn):
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                conn.sendall("".join(f"{x}\r\n" for x in ehlo_lines).encode())
            elif verb == "STARTTLS":
                conn.sendall(starttls_reply.encode() + b"\r\n")
                if starttls_reply.startswith("220"):
                    server.start_tls(conn).recv(100)
                    return
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return

    return handle


def tls_server_context(
    chain_pem: bytes, key: bytes, tmp: Path, *, legacy_only: bool = False
) -> ssl.SSLContext:
    (tmp / "chain.pem").write_bytes(chain_pem)
    (tmp / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # SECLEVEL=0 lets the server present SHA-1 certificates and speak TLS 1.0, as old servers do.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if legacy_only:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 is deprecated: that is the point
            context.maximum_version = ssl.TLSVersion.TLSv1
    context.load_cert_chain(tmp / "chain.pem", tmp / "key.pem")
    return context


def implicit_server(conn: socket.socket, server: FakeServer) -> None:
    tls = server.start_tls(conn)
    tls.sendall(b"220 mail.example.test ESMTP\r\n")
    tls.recv(100)


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI()


@pytest.fixture(scope="module")
def opts(pki: TestPKI) -> CheckOptions:
    return CheckOptions(now=NOW, trust=TrustStore.of([pki.root.cert]))


def checks(result: ProbeResult, opts: CheckOptions) -> list[str]:
    return sorted(f.check for f in check_probe(result, opts))


def probe(port: int, mode: Mode | None, protocol: str | None = "smtp", hostname: str = HOST) -> ProbeResult:
    return probe_endpoint(
        target_for(hostname, port, address="127.0.0.1", protocol=protocol, mode=mode), timeouts=FAST
    )


# --- chains a real daemon would not serve -----------------------------------------------------------------


def test_reversed_intermediates_are_served_as_sent_and_flagged_out_of_order(
    pki: TestPKI, opts: CheckOptions, tmp_path: Path
) -> None:
    upper = _ca("Upper Intermediate CA", new_key("ec"), pki.root, path_length=1)
    lower = _ca("Lower Intermediate CA", new_key("ec"), upper, path_length=0)
    leaf = pki.leaf([HOST], issuer=lower)
    context = tls_server_context(cert_pem(leaf.cert, upper.cert, lower.cert), leaf.key_pem(), tmp_path)
    with serving(implicit_server, context) as server:
        result = probe(server.port, Mode.IMPLICIT)
    assert result.observed is Observed.IMPLICIT
    served = [x509.load_der_x509_certificate(der) for der in result.chain_der]
    assert served == [leaf.cert, upper.cert, lower.cert]
    assert checks(result, opts) == ["cert.chain-order"]
    assert server.sni == [HOST]


def _sha1_intermediate(pki: TestPKI, tmp: Path) -> Issued:
    """An intermediate re-signed by the root with SHA-1 (openssl CLI: cryptography refuses SHA-1), dates kept."""
    # openssl x509 -CA re-signs only a self-signed input; -preserve_dates keeps the fixed test dates.
    made = _ca("SHA1 Intermediate CA", new_key("ec"), None, path_length=0)
    (tmp / "int.pem").write_bytes(made.pem)
    (tmp / "root.key").write_bytes(pki.root.key_pem())
    (tmp / "root.pem").write_bytes(pki.root.pem)
    subprocess.run(
        [
            "openssl",
            "x509",
            "-in",
            tmp / "int.pem",
            "-CA",
            tmp / "root.pem",
            "-CAkey",
            tmp / "root.key",
            "-preserve_dates",
            "-sha1",
            "-set_serial",
            "77",
            "-out",
            tmp / "int-sha1.pem",
        ],
        check=True,
        capture_output=True,
    )
    return Issued(x509.load_pem_x509_certificate((tmp / "int-sha1.pem").read_bytes()), made.key)


def test_sha1_intermediate_is_a_weak_signature(pki: TestPKI, opts: CheckOptions, tmp_path: Path) -> None:
    intermediate = _sha1_intermediate(pki, tmp_path)
    assert intermediate.cert.signature_hash_algorithm is not None
    assert intermediate.cert.signature_hash_algorithm.name == "sha1"
    leaf = pki.leaf([HOST], issuer=intermediate)
    context = tls_server_context(cert_pem(leaf.cert, intermediate.cert), leaf.key_pem(), tmp_path)
    with serving(implicit_server, context) as server:
        result = probe(server.port, Mode.IMPLICIT)
    assert result.observed is Observed.IMPLICIT
    findings = check_probe(result, opts)
    assert [f.check for f in findings] == ["cert.weak-signature"]
    assert "SHA1" in findings[0].message and "SHA1 Intermediate CA" in findings[0].message


def test_tls10_only_server_fails_for_clients_but_its_chain_is_still_checked(
    pki: TestPKI, opts: CheckOptions, tmp_path: Path
) -> None:
    leaf = pki.leaf([HOST], key="rsa")
    context = tls_server_context(pki.bundle(leaf), leaf.key_pem(), tmp_path, legacy_only=True)
    with serving(implicit_server, context) as server:
        result = probe(server.port, Mode.IMPLICIT)
    # A current client (OpenSSL 3 defaults) refuses; the probe retries allowing TLS 1.0 to see the chain.
    assert result.legacy_only
    assert result.tls_version == "TLSv1"
    assert "protocol version" in (result.error or "") or "unsupported protocol" in (result.error or "")
    assert checks(result, opts) == ["config.legacy-protocols", "tls.handshake-failed"]


# --- dialogues that go wrong ------------------------------------------------------------------------------


def test_server_that_closes_after_the_greeting(opts: CheckOptions) -> None:
    def greet_and_close(conn: socket.socket, _server: FakeServer) -> None:
        conn.sendall(b"220 mail.example.test ESMTP\r\n")

    with serving(greet_and_close) as server:
        result = probe(server.port, Mode.STARTTLS)
    assert result.observed is Observed.CLOSED
    assert "closed the connection" in (result.error or "")
    assert checks(result, opts) == ["tls.unreachable"]


def test_tarpit_that_never_answers_is_given_up_on(opts: CheckOptions) -> None:
    def tarpit(_conn: socket.socket, server: FakeServer) -> None:
        server.release.wait(10)

    with serving(tarpit) as server:
        result = probe(server.port, Mode.STARTTLS)
    assert result.observed is Observed.SILENT
    assert "nothing came within 0.5 s" in (result.error or "")
    assert checks(result, opts) == ["tls.unreachable"]


def test_busy_server_421_is_quoted(opts: CheckOptions) -> None:
    reply = "421 4.7.0 mail.example.test Error: too many connections from 127.0.0.1"
    with serving(smtp_server(greeting=reply)) as server:
        result = probe(server.port, Mode.STARTTLS)
    assert result.observed is Observed.REJECTED
    assert result.server_reply == reply
    [finding] = check_probe(result, opts)
    assert finding.check == "tls.unreachable" and reply in finding.message


def test_postfix_454_is_starttls_unavailable_with_the_reply(opts: CheckOptions) -> None:
    reply = "454 4.7.0 TLS not available due to local problem"
    with serving(smtp_server(starttls_reply=reply)) as server:
        result = probe(server.port, Mode.STARTTLS)
    assert result.observed is Observed.STARTTLS_REFUSED
    [finding] = check_probe(result, opts)
    assert finding.check == "tls.starttls-unavailable"
    assert reply in finding.message


def test_starttls_not_advertised(opts: CheckOptions) -> None:
    with serving(smtp_server(ehlo=["250-mail.example.test", "250 8BITMIME"])) as server:
        result = probe(server.port, Mode.STARTTLS)
    assert result.observed is Observed.PLAINTEXT
    assert checks(result, opts) == ["tls.starttls-unavailable"]


def test_ehlo_not_understood_means_no_starttls() -> None:
    with serving(smtp_server(ehlo=["502 5.5.2 Error: command not recognized"])) as server:
        result = probe(server.port, Mode.STARTTLS)
    assert result.observed is Observed.PLAINTEXT


def test_multiline_greeting_then_starttls(pki: TestPKI, opts: CheckOptions, tmp_path: Path) -> None:
    leaf = pki.leaf([HOST])
    context = tls_server_context(pki.bundle(leaf), leaf.key_pem(), tmp_path)
    greeting = "220-mail.example.test ESMTP\r\n220-please wait\r\n220 mail.example.test ready"
    with serving(smtp_server(greeting=greeting), context) as server:
        result = probe(server.port, Mode.STARTTLS)
    assert result.observed is Observed.STARTTLS
    assert len(result.chain_der) == 2
    assert checks(result, opts) == []


def test_garbage_greeting_is_not_smtp() -> None:
    def http(conn: socket.socket, _server: FakeServer) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    with serving(http) as server:
        result = probe(server.port, Mode.STARTTLS)
    assert result.observed is Observed.GARBLED


# --- wrong mode -------------------------------------------------------------------------------------------


def test_plaintext_smtp_on_an_implicit_port(pki: TestPKI, opts: CheckOptions, tmp_path: Path) -> None:
    leaf = pki.leaf([HOST])
    context = tls_server_context(pki.bundle(leaf), leaf.key_pem(), tmp_path)
    with serving(smtp_server(), context) as server:
        result = probe(server.port, Mode.IMPLICIT)
    assert result.observed is Observed.STARTTLS
    assert result.mode_mismatch
    assert "wrong version number" in (result.error or "")
    [finding] = check_probe(result, opts)
    assert finding.check == "config.mode-mismatch"
    assert finding.message.startswith(f"{server.port} speaks plaintext SMTP")


def test_implicit_tls_on_a_starttls_port(pki: TestPKI, opts: CheckOptions, tmp_path: Path) -> None:
    leaf = pki.leaf([HOST])
    context = tls_server_context(pki.bundle(leaf), leaf.key_pem(), tmp_path)
    with serving(implicit_server, context) as server:
        result = probe(server.port, Mode.STARTTLS)
    assert result.observed is Observed.IMPLICIT
    [finding] = check_probe(result, opts)
    assert finding.check == "config.mode-mismatch"
    assert finding.message.startswith(f"{server.port} speaks implicit TLS")


def test_every_probe_is_a_full_handshake_that_shows_the_current_certificate(
    pki: TestPKI, tmp_path: Path
) -> None:
    """The probe's TLS context is shared by a run's probes: a server's session tickets must never be used to
    resume, or a certificate renewed on disk between two probes would go unseen (no certificate is sent on
    resumption)."""
    before, after = pki.leaf([HOST]), pki.leaf([HOST])
    reused: list[bool] = []

    def implicit(conn: socket.socket, server: FakeServer) -> None:
        tls = server.start_tls(conn)
        reused.append(tls.session_reused)
        tls.sendall(b"220 mail.example.test ESMTP\r\n")
        tls.recv(100)

    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    context = tls_server_context(pki.bundle(before), before.key_pem(), tmp_path / "before")
    with serving(implicit, context) as server:
        first = [probe(server.port, Mode.IMPLICIT) for _ in range(2)]
        context.load_cert_chain(*_written(pki.bundle(after), after.key_pem(), tmp_path / "after"))  # renewed
        second = probe(server.port, Mode.IMPLICIT)
        for thread in server.threads:
            thread.join(5)  # the server's side of the last handshake may still be running
    assert [r.observed for r in [*first, second]] == [Observed.IMPLICIT] * 3
    assert [r.chain_der[0] for r in first] == [before.cert.public_bytes(serialization.Encoding.DER)] * 2
    assert second.chain_der[0] == after.cert.public_bytes(serialization.Encoding.DER)
    assert reused == [False, False, False]


def _written(chain_pem: bytes, key: bytes, folder: Path) -> tuple[Path, Path]:
    (folder / "chain.pem").write_bytes(chain_pem)
    (folder / "key.pem").write_bytes(key)
    return folder / "chain.pem", folder / "key.pem"


def test_unknown_port_without_protocol_is_recognised_from_the_greeting(pki: TestPKI, tmp_path: Path) -> None:
    leaf = pki.leaf([HOST])
    context = tls_server_context(pki.bundle(leaf), leaf.key_pem(), tmp_path)
    with serving(smtp_server(), context) as server:
        result = probe(server.port, None, protocol=None)
    assert result.observed is Observed.STARTTLS
    assert result.protocol == "smtp"
    assert not result.mode_mismatch


# --- IMAP and POP3 corner cases ---------------------------------------------------------------------------


def test_imap_without_starttls_capability(opts: CheckOptions) -> None:
    def imap(conn: socket.socket, _server: FakeServer) -> None:
        conn.sendall(b"* OK IMAP ready\r\n")
        for line in lines(conn):
            tag = line.split(" ", 1)[0]
            if "CAPABILITY" in line.upper():
                conn.sendall(f"* CAPABILITY IMAP4rev1 LOGINDISABLED\r\n{tag} OK done\r\n".encode())
            else:
                return

    with serving(imap) as server:
        result = probe(server.port, Mode.STARTTLS, protocol="imap")
    assert result.observed is Observed.PLAINTEXT
    assert "LOGINDISABLED" in (result.server_reply or "")
    assert checks(result, opts) == ["tls.starttls-unavailable"]


def test_pop3_stls_refused(opts: CheckOptions) -> None:
    def pop3(conn: socket.socket, _server: FakeServer) -> None:
        conn.sendall(b"+OK POP3 ready\r\n")
        for line in lines(conn):
            if line.upper() == "CAPA":
                conn.sendall(b"+OK\r\nUSER\r\nSTLS\r\n.\r\n")
            elif line.upper() == "STLS":
                conn.sendall(b"-ERR TLS support isn't enabled\r\n")
            else:
                return

    with serving(pop3) as server:
        result = probe(server.port, Mode.STARTTLS, protocol="pop3")
    assert result.observed is Observed.STARTTLS_REFUSED
    assert result.server_reply == "-ERR TLS support isn't enabled"


def imap_then_after_starttls(said_after_ok: bytes) -> Handler:
    """An IMAP server that accepts STARTTLS and, in the same packet as its OK, says `said_after_ok`."""

    def imap(conn: socket.socket, _server: FakeServer) -> None:
        conn.sendall(b"* OK IMAP ready\r\n")
        for line in lines(conn):
            tag = line.split(" ", 1)[0]
            if "CAPABILITY" in line.upper():
                conn.sendall(f"* CAPABILITY IMAP4rev1 STARTTLS\r\n{tag} OK done\r\n".encode())
            elif "STARTTLS" in line.upper():
                conn.sendall(f"{tag} OK Begin TLS negotiation now.\r\n".encode() + said_after_ok)
                return

    return imap


def test_bye_right_after_starttls_ok_is_a_failed_handshake_with_the_servers_words(opts: CheckOptions) -> None:
    # Dovecot with a key that does not belong to its certificate: OK to STARTTLS, then `* BYE` at once. Read
    # together with the OK (as here) or instead of a ServerHello, it is the same failed handshake for a client.
    with serving(imap_then_after_starttls(b"* BYE TLS initialization failed.\r\n")) as server:
        result = probe(server.port, Mode.STARTTLS, protocol="imap")
    assert result.observed is Observed.HANDSHAKE_FAILED
    assert result.server_reply == "* BYE TLS initialization failed."
    assert checks(result, opts) == ["tls.handshake-failed"]


def test_other_plaintext_after_starttls_ok_is_never_handshaken_over(opts: CheckOptions) -> None:
    with serving(imap_then_after_starttls(b"* OK injected before the handshake\r\n")) as server:
        result = probe(server.port, Mode.STARTTLS, protocol="imap")
    assert result.observed is Observed.GARBLED
    assert result.chain_der == ()


def test_imap_bye_greeting_is_rejected() -> None:
    def bye(conn: socket.socket, _server: FakeServer) -> None:
        conn.sendall(b"* BYE Too many connections\r\n")

    with serving(bye) as server:
        result = probe(server.port, Mode.STARTTLS, protocol="imap")
    assert result.observed is Observed.REJECTED


# --- SNI and politeness -----------------------------------------------------------------------------------


def test_sni_is_the_hostname_even_when_connecting_to_an_address(pki: TestPKI, tmp_path: Path) -> None:
    leaf = pki.leaf([HOST])
    context = tls_server_context(pki.bundle(leaf), leaf.key_pem(), tmp_path)
    with serving(implicit_server, context) as server:
        probe(server.port, Mode.IMPLICIT, hostname="imap.example.test")
        probe(server.port, Mode.IMPLICIT, hostname="127.0.0.1")
    assert server.sni == ["imap.example.test", None]  # no SNI for an IP literal, as clients do


def test_at_most_per_host_connections_at_once() -> None:
    def slow_greeting(conn: socket.socket, server: FakeServer) -> None:
        server.release.wait(0.2)
        conn.sendall(b"220 mail.example.test ESMTP\r\n")
        for line in lines(conn):
            if line.upper().startswith("EHLO"):
                conn.sendall(b"250 mail.example.test\r\n")
            else:
                return

    # Counted on the client side, where the connections are opened and closed: the server sees a close only
    # when its thread gets to run, which under load can be after the client's next connection.
    import mailcert.probe.wire as wire

    lock, open_now, most = threading.Lock(), [0], [0]
    real_connect = wire.socket.create_connection

    class Counted(socket.socket):
        def close(self) -> None:
            if self.fileno() != -1:
                with lock:
                    open_now[0] -= 1
            super().close()

    def counted_connect(address: tuple[str, int], timeout: float | None = None) -> socket.socket:
        sock = real_connect(address, timeout=timeout)
        counted = Counted(sock.family, sock.type, sock.proto, fileno=sock.detach())
        counted.settimeout(timeout)
        with lock:
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])
        return counted

    with serving(slow_greeting) as server, pytest.MonkeyPatch.context() as patch:
        patch.setattr(wire.socket, "create_connection", counted_connect)
        targets = [
            target_for(HOST, server.port, address="127.0.0.1", protocol="smtp", mode=Mode.STARTTLS)
        ] * 6
        results = probe_all(targets, timeouts=FAST, per_host=2)
    assert [r.observed for r in results] == [Observed.PLAINTEXT] * 6
    assert most[0] == 2  # two at a time (the slow greeting keeps both busy), never more
    assert open_now[0] == 0  # and every one closed


def test_closed_port_is_unreachable(opts: CheckOptions) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    result = probe(port, Mode.STARTTLS)
    assert result.observed is Observed.UNREACHABLE
    assert "refused" in (result.error or "")
    assert checks(result, opts) == ["tls.unreachable"]


def test_a_memo_connects_once_per_endpoint_and_relabels_the_result(pki: TestPKI, tmp_path: Path) -> None:
    """The audit's DNS stage asks for endpoints the host's own probe already got (MX on 25, SRV on 993):
    with the host's memo they are not connected to again, and the result is labelled as asked."""
    leaf = pki.leaf([HOST, "MX.example.test"])
    context = tls_server_context(pki.bundle(leaf), leaf.key_pem(), tmp_path)
    connections: list[str | None] = []

    def counted(conn: socket.socket, server: FakeServer) -> None:
        connections.append(None)
        implicit_server(conn, server)

    memo = ProbeMemo()
    with serving(counted, context) as server:
        own = target_for(HOST, server.port, address="127.0.0.1", protocol="smtp", mode=Mode.IMPLICIT)
        [first] = probe_all([own], timeouts=FAST, memo=memo)
        advertised = [
            ProbeTarget(HOST.upper(), server.port, "smtp", Mode.IMPLICIT, "127.0.0.1", "mx", required=False),
            # not the same probe: another SNI name, another mode, another address
            target_for(
                "mx.example.test", server.port, address="127.0.0.1", protocol="smtp", mode=Mode.IMPLICIT
            ),
            target_for(HOST, server.port, address="localhost", protocol="smtp", mode=Mode.IMPLICIT),
        ]
        again, other_name, other_address = probe_all(advertised, timeouts=FAST, memo=memo)
        for thread in server.threads:
            thread.join(5)
    assert len(connections) == 3  # the first probe and the two that differ; not the repeated one
    assert again.observed is first.observed is Observed.IMPLICIT
    assert again.chain_der == first.chain_der
    assert (again.hostname, again.service, again.required) == (HOST.upper(), "mx", False)
    assert other_name.hostname == "mx.example.test"
    assert other_address.address == "localhost"
    assert server.sni == [HOST, "mx.example.test", HOST]
