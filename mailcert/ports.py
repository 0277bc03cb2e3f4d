"""The standard mail ports, defined once: which dialogue each speaks and how TLS starts (RFC 8314, RFC 6186).

Everything else that knows a mail port derives from these tables: the prober's targets, lint's client
kinds, the parsers' service-name lookups (Postfix master.cf, Exim daemon_smtp_ports), the planners.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailcert.model import Mode

# How mailcert speaks to these ports as a client (mailcert.probe; here so that `mailcert probe --help` can
# show them without importing the prober).
DEFAULT_EHLO = "mailcert.invalid"  # the name sent in EHLO
DEFAULT_PER_HOST = 2  # connections to one host at a time


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

# Older names for port 465 that configurations and /etc/services still use (smtps, ssmtp: before RFC 8314
# named it submissions).
_ALIASES: dict[str, int] = {"smtps": 465, "ssmtp": 465}

# Service name → port: the standard names and their aliases, as a config file may write them.
PORT_NUMBERS: dict[str, int] = {role.service: port for port, role in STANDARD_PORTS.items()} | _ALIASES

# The kinds of names a client uses (mailcert_hostnames keys): implicit TLS shares its STARTTLS twin's kind.
CLIENT_KINDS: dict[str, str] = {
    "smtp": "smtp",
    "submission": "submission",
    "submissions": "submission",
    "smtps": "submission",
    "imap": "imap",
    "imaps": "imap",
    "pop3": "pop3",
    "pop3s": "pop3",
}


def ports_speaking(*protocols: str) -> tuple[int, ...]:
    """The standard ports whose dialogue is one of `protocols`, in the table's order."""
    return tuple(port for port, role in STANDARD_PORTS.items() if role.protocol in protocols)


def names_speaking(*protocols: str) -> dict[str, int]:
    """Service name (aliases included) → port, for the standard ports speaking one of `protocols`."""
    return {name: port for name, port in PORT_NUMBERS.items() if STANDARD_PORTS[port].protocol in protocols}
