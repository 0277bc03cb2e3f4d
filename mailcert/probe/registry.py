"""Which dialogue a mail port speaks: the standard ports with their protocol and TLS mode (RFC 8314, RFC 6186)."""

from __future__ import annotations

from dataclasses import dataclass

from mailcert.model import Mode


@dataclass(frozen=True)
class PortRole:
    """What a client expects on a port: the service name, the dialogue, and how TLS starts."""

    service: str  # the RFC 6186 / IANA service name: smtp, submission, submissions, imap, imaps, pop3, pop3s
    protocol: str  # the dialogue: smtp, imap, pop3
    mode: Mode


STANDARD_PORTS: dict[int, PortRole] = {
    25: PortRole("smtp", "smtp", Mode.STARTTLS),
    587: PortRole("submission", "smtp", Mode.STARTTLS),
    465: PortRole("submissions", "smtp", Mode.IMPLICIT),
    143: PortRole("imap", "imap", Mode.STARTTLS),
    993: PortRole("imaps", "imap", Mode.IMPLICIT),
    110: PortRole("pop3", "pop3", Mode.STARTTLS),
    995: PortRole("pop3s", "pop3", Mode.IMPLICIT),
}

PROTOCOLS: tuple[str, ...] = ("smtp", "imap", "pop3")

# Human words for a dialogue spoken in plaintext, for "465 speaks plaintext SMTP".
PROTOCOL_LABELS: dict[str, str] = {"smtp": "SMTP", "imap": "IMAP", "pop3": "POP3"}


def role_for(port: int, protocol: str | None = None, mode: Mode | None = None) -> PortRole | None:
    """The role of a port: the standard one, adjusted by an explicit protocol/mode; None when nothing is known."""
    standard = STANDARD_PORTS.get(port)
    if standard is None:
        if protocol is None:
            return None
        return PortRole(protocol, protocol, mode or Mode.STARTTLS)
    if protocol is None and mode is None:
        return standard
    chosen_protocol = protocol or standard.protocol
    service = standard.service if chosen_protocol == standard.protocol else chosen_protocol
    return PortRole(service, chosen_protocol, mode or standard.mode)


def sniff_protocol(greeting: str) -> str | None:
    """The dialogue a plaintext greeting belongs to: `220 ...` SMTP, `* OK` IMAP, `+OK` POP3."""
    text = greeting.lstrip()
    if text[:3].isdigit():
        return "smtp"
    if text.upper().startswith(("* OK", "* PREAUTH", "* BYE")):
        return "imap"
    if text.upper().startswith(("+OK", "-ERR")):
        return "pop3"
    return None
