"""Which dialogue a port speaks: the standard ports (mailcert/ports.py), adjusted by what the caller knows."""

from __future__ import annotations

from mailcert.model import Mode
from mailcert.ports import PROTOCOL_LABELS, PROTOCOLS, STANDARD_PORTS, PortRole

__all__ = ["PROTOCOLS", "PROTOCOL_LABELS", "STANDARD_PORTS", "PortRole", "role_for", "sniff_protocol"]


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
