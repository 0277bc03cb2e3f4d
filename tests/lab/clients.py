"""Real mail clients for the lab tests: Python's ssl and `openssl s_client`, speaking each protocol's STARTTLS.

These only ever connect to addresses the lab assigned to its own namespaces.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cryptography import x509

from mailcert.lab.network import is_lab_address

PROTOCOL = {25: "smtp", 587: "smtp", 465: "smtp", 143: "imap", 993: "imap", 110: "pop3", 995: "pop3"}
IMPLICIT = frozenset({465, 993, 995})
TIMEOUT = 5.0
GREETING_WAIT = 1.5  # a greeting comes at once; an implicit-TLS port sends nothing


class StartTLSRefusedError(Exception):
    """The server answered STARTTLS/STLS with something other than go-ahead (e.g. Postfix's 454)."""


def _guard(address: str) -> None:
    assert is_lab_address(address), f"tests talk only to the lab's own addresses, not {address}"


def _read_reply(sock: socket.socket, protocol: str, tag: bytes = b"") -> bytes:
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"connection closed; got {data!r}")
        data += chunk
        if not data.endswith(b"\r\n"):
            continue
        last = data.rstrip(b"\r\n").split(b"\r\n")[-1]
        if protocol == "smtp" and len(last) >= 4 and last[3:4] == b" ":
            return data
        if protocol == "imap" and (last.startswith(tag) if tag else last.startswith(b"* ")):
            return data
        if protocol == "pop3" and (last.startswith((b"+OK", b"-ERR"))):
            return data


def greeting(address: str, port: int) -> bytes:
    """The first bytes the server sends without being asked (a STARTTLS port greets; an implicit one waits)."""
    _guard(address)
    with socket.create_connection((address, port), timeout=TIMEOUT) as sock:
        sock.settimeout(GREETING_WAIT)
        try:
            return sock.recv(512)
        except TimeoutError:
            return b""


def starttls(sock: socket.socket, protocol: str) -> None:
    """Greeting, then the protocol's STARTTLS command; raises StartTLSRefusedError unless the server says go."""
    if protocol == "smtp":
        _read_reply(sock, "smtp")
        sock.sendall(b"EHLO client.mailcert.test\r\n")
        _read_reply(sock, "smtp")
        sock.sendall(b"STARTTLS\r\n")
        reply = _read_reply(sock, "smtp")
        if not reply.startswith(b"220"):
            raise StartTLSRefusedError(reply.decode(errors="replace").strip())
    elif protocol == "imap":
        _read_reply(sock, "imap")
        sock.sendall(b"a1 STARTTLS\r\n")
        reply = _read_reply(sock, "imap", b"a1 ")
        if not reply.rstrip().split(b"\r\n")[-1].startswith(b"a1 OK"):
            raise StartTLSRefusedError(reply.decode(errors="replace").strip())
    else:
        _read_reply(sock, "pop3")
        sock.sendall(b"STLS\r\n")
        reply = _read_reply(sock, "pop3")
        if not reply.startswith(b"+OK"):
            raise StartTLSRefusedError(reply.decode(errors="replace").strip())


def tls_connect(
    address: str, port: int, servername: str, context: ssl.SSLContext, *, implicit: bool | None = None
) -> ssl.SSLSocket:
    """A TLS connection as a mail client makes it: implicit TLS on 465/993/995, STARTTLS elsewhere."""
    _guard(address)
    sock = socket.create_connection((address, port), timeout=TIMEOUT)
    try:
        if not (port in IMPLICIT if implicit is None else implicit):
            starttls(sock, PROTOCOL[port])
        return context.wrap_socket(sock, server_hostname=servername)
    except BaseException:
        sock.close()
        raise


def unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def verifying(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def served_leaf(
    address: str, port: int, servername: str, *, implicit: bool | None = None
) -> x509.Certificate:
    with tls_connect(address, port, servername, unverified(), implicit=implicit) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str  # OpenSSL's verify message, or the error that stopped the handshake


def verify(address: str, port: int, servername: str, cafile: str) -> Verdict:
    """What a strict client (trusting only the lab's roots) concludes about this port and name."""
    try:
        with tls_connect(address, port, servername, verifying(cafile)):
            return Verdict(True, "ok")
    except ssl.SSLCertVerificationError as exc:
        return Verdict(False, str(exc.verify_message))


def s_client_chain_length(address: str, port: int, servername: str) -> int:
    """How many certificates the server sends, as `openssl s_client -showcerts` prints them."""
    _guard(address)
    argv = ["openssl", "s_client", "-connect", f"{address}:{port}", "-servername", servername, "-showcerts"]
    if port not in IMPLICIT:
        argv += ["-starttls", PROTOCOL[port]]
    done = subprocess.run(argv, input="", capture_output=True, text=True, timeout=20, check=False)
    return done.stdout.count("-----BEGIN CERTIFICATE-----")


# -- what a client concludes about each (port, name): two independent TLS stacks ----------------------------
MAIL_PORTS = (25, 587, 465, 143, 993, 110, 995)
S_CLIENT_TIMEOUT = 10.0  # a STARTTLS client on an implicit-TLS port waits for a greeting that never comes


def python_verdict(address: str, port: int, servername: str, cafile: str) -> Verdict:
    """Python's ssl (a strict client trusting only `cafile`): any failure is a verdict, never an exception."""
    try:
        with tls_connect(address, port, servername, verifying(cafile)):
            return Verdict(True, "ok")
    except ssl.SSLCertVerificationError as exc:
        return Verdict(False, str(exc.verify_message))
    except StartTLSRefusedError as exc:
        return Verdict(False, f"STARTTLS refused: {exc}")
    except (OSError, ssl.SSLError, ConnectionError) as exc:
        return Verdict(False, f"{type(exc).__name__}: {exc}")


def openssl_verdict(address: str, port: int, servername: str, cafile: str) -> Verdict:
    """`openssl s_client` with the protocol's -starttls, verifying the chain and the name against `cafile`."""
    _guard(address)
    argv = [
        "openssl", "s_client", "-connect", f"{address}:{port}", "-servername", servername,
        "-verify_hostname", servername, "-verify_return_error", "-CAfile", cafile,
    ]  # fmt: skip
    if port not in IMPLICIT:
        argv += ["-starttls", PROTOCOL[port]]
    try:
        done = subprocess.run(
            argv, input="", capture_output=True, text=True, timeout=S_CLIENT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return Verdict(False, f"no answer within {S_CLIENT_TIMEOUT:.0f} s")
    if done.returncode == 0 and "Verify return code: 0 (ok)" in done.stdout:
        return Verdict(True, "ok")
    errors = [line for line in done.stderr.splitlines() if "verify error" in line or "error" in line.lower()]
    return Verdict(False, (errors or done.stderr.splitlines() or [f"exit {done.returncode}"])[0].strip())


@dataclass(frozen=True)
class EndpointVerdict:
    """Both stacks' verdict on one (port, name)."""

    python: Verdict
    openssl: Verdict

    @property
    def verified(self) -> bool:
        return self.python.ok and self.openssl.ok

    def worse_than(self, before: EndpointVerdict) -> list[str]:
        """What a client verified before and no longer does (one line per stack that regressed)."""
        lost = []
        if before.python.ok and not self.python.ok:
            lost.append(f"python ssl: {self.python.reason}")
        if before.openssl.ok and not self.openssl.ok:
            lost.append(f"openssl s_client: {self.openssl.reason}")
        return lost


def endpoint_verdict(address: str, port: int, servername: str, cafile: str) -> EndpointVerdict:
    return EndpointVerdict(
        python_verdict(address, port, servername, cafile), openssl_verdict(address, port, servername, cafile)
    )


def host_verdicts(
    address: str, names: Sequence[str], cafile: str, ports: Sequence[int] = MAIL_PORTS
) -> dict[tuple[int, str], EndpointVerdict]:
    """Every (port, name) a mail client uses on one host, as both stacks see it."""
    return {(port, name): endpoint_verdict(address, port, name, cafile) for port in ports for name in names}


def fleet_verdicts(
    hosts: Mapping[str, tuple[str, Sequence[str]]], cafile: str, *, workers: int = 12
) -> dict[str, dict[tuple[int, str], EndpointVerdict]]:
    """host_verdicts for many hosts at once: {host: (address, names)} → {host: {(port, name): verdict}}."""
    jobs = [(host, port, name) for host, (_, names) in hosts.items() for port in MAIL_PORTS for name in names]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = pool.map(lambda job: endpoint_verdict(hosts[job[0]][0], job[1], job[2], cafile), jobs)
        result: dict[str, dict[tuple[int, str], EndpointVerdict]] = {host: {} for host in hosts}
        for (host, port, name), verdict in zip(jobs, found, strict=True):
            result[host][(port, name)] = verdict
    return result
