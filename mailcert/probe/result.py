"""What one probe of one endpoint saw: a frozen record that never raises, whatever the server did."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mailcert.model import Mode


class Observed(enum.StrEnum):
    """How the endpoint behaved. The first two mean a TLS session was established (chain captured)."""

    STARTTLS = "starttls"
    IMPLICIT = "implicit"
    PLAINTEXT = "plaintext-no-starttls"  # plaintext dialogue, STARTTLS/STLS not advertised
    STARTTLS_REFUSED = "starttls-refused"  # advertised, but the command was refused (Postfix 454)
    REJECTED = "rejected"  # the server turned us away before TLS (SMTP 421/554 greeting, IMAP BYE, POP3 -ERR)
    SILENT = (
        "no-greeting"  # connected, but nothing came within the read timeout (tarpit, or implicit TLS port)
    )
    CLOSED = "closed"  # the server closed the connection in the middle of the dialogue
    GARBLED = "unexpected-reply"  # the server said something that is not the expected protocol
    HANDSHAKE_FAILED = "handshake-failed"
    UNREACHABLE = "unreachable"  # cannot resolve, connection refused, or connect timeout

    @property
    def tls(self) -> Mode | None:
        """The TLS mode that worked, or None when no TLS session was established."""
        return {Observed.STARTTLS: Mode.STARTTLS, Observed.IMPLICIT: Mode.IMPLICIT}.get(self)


@dataclass(frozen=True)
class Timeouts:
    """Bounds in seconds: connecting, each read (and the handshake), the whole endpoint with fallbacks."""

    connect: float = 5.0
    read: float = 10.0
    endpoint: float = 20.0


@dataclass(frozen=True)
class ProbeTarget:
    """One endpoint to probe: connect to `address or hostname`, present `hostname` as SNI.

    `protocol`/`expected_mode` None means "find out" (non-standard port without --protocol).
    """

    hostname: str
    port: int
    protocol: str | None = None
    expected_mode: Mode | None = None
    address: str | None = None
    service: str | None = None
    required: bool = True  # False for ports swept by default: closed means "not offered", not a fault

    @property
    def connect_to(self) -> str:
        return self.address or self.hostname

    @property
    def label(self) -> str:
        via = f" via {self.address}" if self.address and self.address != self.hostname else ""
        return f"{self.hostname}:{self.port}{via}"


@dataclass(frozen=True)
class ProbeResult:
    """What a client connecting to one endpoint got. `chain_der` is the chain as served, leaf first.

    `error` says why the expected mode failed (also when another mode then worked: mode mismatch);
    `server_reply` quotes the reply that explains a refusal (greeting, EHLO, STARTTLS answer).
    """

    hostname: str
    address: str | None
    port: int
    expected_mode: Mode | None
    observed: Observed
    chain_der: tuple[bytes, ...] = ()
    tls_version: str | None = None
    error: str | None = None
    server_reply: str | None = None
    protocol: str | None = None
    service: str | None = None
    cipher: str | None = None
    legacy_only: bool = False  # a handshake worked only after allowing TLS 1.0/1.1 and weak ciphers
    required: bool = True

    @property
    def tls_mode(self) -> Mode | None:
        return self.observed.tls

    @property
    def mode_mismatch(self) -> bool:
        """The port speaks the other mode than expected (e.g. 587 with implicit TLS, 465 plaintext)."""
        if self.expected_mode is None:
            return False
        if self.observed.tls is not None:
            return self.observed.tls is not self.expected_mode
        plaintext = (Observed.PLAINTEXT, Observed.STARTTLS_REFUSED)
        return self.expected_mode is Mode.IMPLICIT and self.observed in plaintext
