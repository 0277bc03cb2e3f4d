"""A connection to one mail port with hard time bounds: connect, line reads, TLS handshake, chain capture.

Every wait is bounded by the per-read timeout and by the endpoint's overall deadline, so a tarpit or a
silent implicit-TLS port costs at most that long. The TLS context never verifies: the served chain is
captured as is and judged later by the cert checks, the way a client would judge it.
"""

from __future__ import annotations

import _ssl
import contextlib
import functools
import re
import socket
import ssl
import time
from dataclasses import dataclass

MAX_LINE = 8192  # longer lines are a broken or hostile server, not a mail daemon


# An IMAP `* BYE`, a POP3 `-ERR`, an SMTP 4xx/5xx reply: how each protocol says "no".
_SERVER_GAVE_UP = re.compile(r"^(\* BYE\b|-ERR\b|[45][0-9][0-9][ -])", re.IGNORECASE)


class WireError(Exception):
    """The connection failed in a way the dialogue reports; `kind` is one of the Observed values."""

    def __init__(self, kind: str, reason: str, reply: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.reply = reply


@dataclass(frozen=True)
class TlsSession:
    chain_der: tuple[bytes, ...]
    version: str | None
    cipher: str | None


class Wire:
    """One TCP connection; reads lines until `deadline` (time.monotonic) with `read_timeout` per read."""

    def __init__(self, sock: socket.socket, deadline: float, read_timeout: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.read_timeout = read_timeout
        self._buffer = b""

    @classmethod
    def connect(
        cls, host: str, port: int, *, connect_timeout: float, read_timeout: float, deadline: float
    ) -> Wire:
        try:
            sock = socket.create_connection((host, port), timeout=_bounded(connect_timeout, deadline))
        except socket.gaierror as exc:
            raise WireError("unreachable", f"cannot resolve {host}: {exc.strerror}") from None
        except TimeoutError:
            raise WireError(
                "unreachable", f"no answer to connect within {connect_timeout:g} s (filtered?)"
            ) from None
        except ConnectionRefusedError:
            raise WireError("unreachable", "connection refused (nothing listens on this port)") from None
        except OSError as exc:
            raise WireError("unreachable", f"cannot connect: {exc.strerror or exc}") from None
        except (UnicodeError, ValueError) as exc:  # a name IDNA cannot encode, a NUL in the name
            raise WireError("unreachable", f"cannot resolve {host!r}: {exc}") from None
        return cls(sock, deadline, read_timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def say(self, text: str) -> None:
        """Send a polite last command (QUIT, LOGOUT) whose answer nobody waits for."""
        with contextlib.suppress(WireError):
            self.send_line(text)

    def send_line(self, text: str) -> None:
        try:
            self.sock.settimeout(_bounded(self.read_timeout, self.deadline))
            self.sock.sendall(text.encode("utf-8") + b"\r\n")
        except (ConnectionResetError, BrokenPipeError):
            raise WireError("closed", f"server closed the connection before {text.split()[0]}") from None
        except (TimeoutError, OSError) as exc:
            raise WireError("closed", f"cannot send {text.split()[0]}: {_os_reason(exc)}") from None

    def read_line(self, waiting_for: str) -> str:
        """One line without its CRLF; WireError 'no-greeting'/'closed' when it does not come in time."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise WireError(
                    "unexpected-reply", f"line longer than {MAX_LINE} bytes while waiting for {waiting_for}"
                )
            try:
                self.sock.settimeout(_bounded(self.read_timeout, self.deadline))
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise WireError(
                    "no-greeting",
                    f"nothing came within {self.read_timeout:g} s while waiting for {waiting_for}",
                    _text(self._buffer) or None,
                ) from None
            except ConnectionResetError:
                # A server that hung up after its greeting answers our next command with a reset.
                raise WireError(
                    "closed",
                    f"server closed the connection (reset) while we waited for {waiting_for}",
                    _text(self._buffer) or None,
                ) from None
            except OSError as exc:
                raise WireError(
                    "closed", f"connection lost while waiting for {waiting_for}: {_os_reason(exc)}"
                ) from None
            if not chunk:
                raise WireError(
                    "closed",
                    f"server closed the connection while we waited for {waiting_for}",
                    _text(self._buffer) or None,
                )
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return _text(line).rstrip("\r")

    def start_tls(self, server_hostname: str, *, legacy: bool = False) -> TlsSession:
        """Handshake on this connection (SNI = server_hostname, also for an address) and capture the chain."""
        if self._buffer:
            # Bytes before our ClientHello: never handshake over them (an injected plaintext, CVE-2011-0411
            # style). A protocol error line is the server giving up on TLS right after its "go ahead" (Dovecot
            # with a key that does not match its certificate: `* BYE`), which a client meets as a failed
            # handshake; whether it arrives before or after our ClientHello is a race, so both are one verdict.
            line = _text(self._buffer.split(b"\n", 1)[0]).rstrip("\r")
            if _SERVER_GAVE_UP.match(line):
                raise WireError(
                    "handshake-failed",
                    f"the server gave up on TLS right after accepting STARTTLS: {line[:200]!r}",
                    line[:200],
                )
            raise WireError(
                "unexpected-reply", "server sent data after accepting STARTTLS, before the handshake"
            )
        context = _probe_context(legacy)
        try:
            self.sock.settimeout(_bounded(self.read_timeout, self.deadline))
            tls = context.wrap_socket(self.sock, server_hostname=_sni(server_hostname))
        except TimeoutError:
            raise WireError(
                "handshake-failed", f"no TLS handshake answer within {self.read_timeout:g} s"
            ) from None
        except ssl.SSLError as exc:
            raise WireError("handshake-failed", ssl_reason(exc)) from None
        except OSError as exc:
            raise WireError(
                "handshake-failed", f"connection lost during the TLS handshake: {_os_reason(exc)}"
            ) from None
        except (UnicodeError, ValueError) as exc:
            raise WireError("handshake-failed", f"cannot send {server_hostname!r} as SNI: {exc}") from None
        self.sock = tls
        cipher = tls.cipher()
        return TlsSession(served_chain_der(tls), tls.version(), cipher[0] if cipher else None)


def served_chain_der(sock: ssl.SSLSocket) -> tuple[bytes, ...]:
    """The chain exactly as the server sent it, leaf first, without any verification (3.11: private API)."""
    public = getattr(sock, "get_unverified_chain", None)
    if public is not None:  # Python 3.13+
        return tuple(bytes(cert) for cert in public() or [])
    sslobj = getattr(sock, "_sslobj", None)
    chain = sslobj.get_unverified_chain() if sslobj is not None else None
    return tuple(cert.public_bytes(_ssl.ENCODING_DER) for cert in chain or [])


def ssl_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason in words, without the `(_ssl.c:1006)` noise: 'wrong version number'."""
    if isinstance(exc, ssl.SSLEOFError) or "EOF" in str(exc):
        return "server closed the connection during the TLS handshake"
    text = re.sub(r"\s*\(_ssl\.c:\d+\)$", "", str(exc.args[1]) if len(exc.args) > 1 else str(exc))
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    return text or (exc.reason or "TLS error").replace("_", " ").lower()


def is_plaintext_answer(reason: str) -> bool:
    """The server answered our ClientHello with plaintext: it speaks the protocol unencrypted first."""
    return "wrong version number" in reason or "record layer failure" in reason or "http request" in reason


@functools.cache
def _probe_context(legacy: bool) -> ssl.SSLContext:
    """One context per kind for the whole run (making one cost 0.3 ms, about 30 times per host). Shared by
    the probe threads, which OpenSSL allows; a client resumes a session only when handed one, which the
    probe never does, so every handshake still shows the certificate the server sends."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if legacy:
        # Only to see what a TLS 1.0/1.1-only server serves; current clients refuse such a server.
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def _sni(hostname: str) -> str | None:
    # An IP literal is not a valid SNI name; clients send none in that case.
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in hostname else socket.AF_INET, hostname)
    except OSError:
        return hostname
    return None


def _bounded(timeout: float, deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise WireError("no-greeting", "overall time limit for this endpoint reached")
    return max(0.05, min(timeout, left))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
