"""RFC 6186 / RFC 8314 SRV services: which name, port and TLS mode clients are told to use."""

from __future__ import annotations

from dataclasses import dataclass

from mailcert.model import Mode


@dataclass(frozen=True)
class SrvService:
    label: str  # `_imaps._tcp`
    protocol: str  # smtp, imap, pop3
    mode: Mode  # _imap, _pop3, _submission: plaintext upgraded with STARTTLS (RFC 6186 section 3.2)
    standard_port: int


SRV_SERVICES: tuple[SrvService, ...] = (
    SrvService("_submissions._tcp", "smtp", Mode.IMPLICIT, 465),
    SrvService("_submission._tcp", "smtp", Mode.STARTTLS, 587),
    SrvService("_imaps._tcp", "imap", Mode.IMPLICIT, 993),
    SrvService("_imap._tcp", "imap", Mode.STARTTLS, 143),
    SrvService("_pop3s._tcp", "pop3", Mode.IMPLICIT, 995),
    SrvService("_pop3._tcp", "pop3", Mode.STARTTLS, 110),
)


def srv_name(service: SrvService, domain: str) -> str:
    return f"{service.label}.{domain}"
