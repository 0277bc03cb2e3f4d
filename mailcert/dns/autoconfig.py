"""Thunderbird autoconfig (config-v1.1.xml): the incoming and outgoing servers, ports and socket types."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeXml

from mailcert.model import Mode

AUTOCONFIG_PATH = "/mail/config-v1.1.xml"
WELL_KNOWN_PATH = "/.well-known/autoconfig/mail/config-v1.1.xml"
SOCKET_TYPES = {"SSL": Mode.IMPLICIT, "STARTTLS": Mode.STARTTLS}


@dataclass(frozen=True)
class AdvertisedServer:
    """One server a client configuration document tells clients to use."""

    protocol: str  # smtp, imap, pop3
    hostname: str
    port: int
    mode: Mode | None  # None: plaintext (socketType plain / Encryption None)
    wording: str  # as the document said it, for messages: 'socketType SSL'


def autoconfig_urls(domain: str) -> list[tuple[str, str]]:
    """(host, path) in Thunderbird's order: the ISP's autoconfig host, then the domain's .well-known."""
    return [(f"autoconfig.{domain}", AUTOCONFIG_PATH), (domain, WELL_KNOWN_PATH)]


def parse_xml(text: bytes) -> tuple[Element | None, str | None]:
    """Parsed XML with entities, DTDs and external references refused; (None, why) for junk."""
    try:
        return SafeXml.fromstring(text, forbid_dtd=True), None
    except DefusedXmlException as exc:
        return None, f"the document uses forbidden XML ({type(exc).__name__})"
    except (SafeXml.ParseError, ValueError) as exc:
        return None, f"the document is not XML ({exc})"


def local(tag: object) -> str:
    """The tag without its {namespace}."""
    return str(tag).rpartition("}")[2]


def parse_autoconfig(text: bytes, domain: str, email: str) -> tuple[list[AdvertisedServer], str | None]:
    root, error = parse_xml(text)
    if root is None:
        return [], error
    if local(root.tag) != "clientConfig":
        return [], f"the root element is <{local(root.tag)}>, not <clientConfig>"
    servers: list[AdvertisedServer] = []
    for element in root.iter():
        if local(element.tag) not in ("incomingServer", "outgoingServer"):
            continue
        fields = {local(child.tag): (child.text or "").strip() for child in element}
        kind = element.get("type", "").lower()
        protocol = {"imap": "imap", "pop3": "pop3", "smtp": "smtp"}.get(kind)
        hostname = _expand(fields.get("hostname", ""), domain, email)
        port = fields.get("port", "")
        if protocol is None or not hostname or not port.isdigit():
            continue  # exchange/ews entries, or incomplete ones clients skip too
        socket_type = fields.get("socketType", "plain")
        servers.append(
            AdvertisedServer(
                protocol, hostname, int(port), SOCKET_TYPES.get(socket_type), f"socketType {socket_type}"
            )
        )
    return servers, None


def _expand(value: str, domain: str, email: str) -> str:
    local_part = email.partition("@")[0]
    for placeholder, text in (
        ("%EMAILDOMAIN%", domain),
        ("%EMAILADDRESS%", email),
        ("%EMAILLOCALPART%", local_part),
    ):
        value = value.replace(placeholder, text)
    return value.lower().rstrip(".")
