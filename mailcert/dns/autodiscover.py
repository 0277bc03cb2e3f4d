"""Outlook autodiscover, POX protocol: the POST request, and the IMAP/POP3/SMTP servers in the answer."""

from __future__ import annotations

from xml.sax.saxutils import escape

from mailcert.dns.autoconfig import AdvertisedServer, local, parse_xml
from mailcert.model import Mode
from mailcert.probe.registry import STANDARD_PORTS

AUTODISCOVER_PATH = "/autodiscover/autodiscover.xml"
_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
_RESPONSE_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
_ENCRYPTION = {"ssl": Mode.IMPLICIT, "tls": Mode.STARTTLS}


def autodiscover_host(domain: str) -> str:
    return f"autodiscover.{domain}"


def autodiscover_request(email: str) -> bytes:
    """The POX request body Outlook POSTs."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Autodiscover xmlns="{_REQUEST_NS}">\n'
        "  <Request>\n"
        f"    <EMailAddress>{escape(email)}</EMailAddress>\n"
        f"    <AcceptableResponseSchema>{_RESPONSE_SCHEMA}</AcceptableResponseSchema>\n"
        "  </Request>\n"
        "</Autodiscover>\n"
    ).encode()


def advertised_mode(ssl: str, encryption: str, port: int) -> tuple[Mode | None, str]:
    """`<Encryption>` wins over `<SSL>` (SSL|TLS|Auto|None); `<SSL>on` alone means implicit TLS."""
    if encryption:
        word = f"Encryption {encryption}"
        if encryption.lower() == "auto":
            role = STANDARD_PORTS.get(port)  # Outlook tries both: whatever the port speaks is what it gets
            return (role.mode if role else Mode.STARTTLS), word
        return _ENCRYPTION.get(encryption.lower()), word
    if ssl.lower() == "off":
        return None, "SSL off"
    return Mode.IMPLICIT, f"SSL {ssl or 'on (default)'}"


def parse_autodiscover(text: bytes) -> tuple[list[AdvertisedServer], str | None]:
    root, error = parse_xml(text)
    if root is None:
        return [], error
    if local(root.tag) != "Autodiscover":
        return [], f"the root element is <{local(root.tag)}>, not <Autodiscover>"
    servers: list[AdvertisedServer] = []
    for element in root.iter():
        if local(element.tag) != "Protocol":
            continue
        fields = {local(child.tag): (child.text or "").strip() for child in element}
        protocol = {"IMAP": "imap", "POP3": "pop3", "SMTP": "smtp"}.get(fields.get("Type", "").upper())
        server, port = fields.get("Server", "").lower().rstrip("."), fields.get("Port", "")
        if protocol is None or not server or not port.isdigit():
            continue  # EXCH/EXPR entries, or incomplete ones
        mode, wording = advertised_mode(fields.get("SSL", ""), fields.get("Encryption", ""), int(port))
        servers.append(AdvertisedServer(protocol, server, int(port), mode, wording))
    errors = [e for e in root.iter() if local(e.tag) == "Error"]
    if not servers and errors:
        message = " ".join((e.text or "").strip() for e in errors[0].iter() if (e.text or "").strip())
        return [], f"the server answered with an error: {message[:200]}"
    return servers, None
