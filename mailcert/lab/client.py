"""A plain mail client's view of a lab port (Python's ssl, the lab's CA bundle as the only trust):
what `make demo` shows next to mailcert's findings. Connects only to the lab's own addresses."""

from __future__ import annotations

import socket
import ssl

from mailcert.lab import LabError
from mailcert.lab.network import is_lab_address

PORT_PROTOCOL = {25: "smtp", 587: "smtp", 465: "smtp", 143: "imap", 993: "imap", 110: "pop3", 995: "pop3"}
IMPLICIT_PORTS = frozenset({465, 993, 995})
_STARTTLS = {
    "smtp": (b"EHLO demo.mailcert.test\r\n", b"STARTTLS\r\n"),
    "imap": (None, b"a STARTTLS\r\n"),
    "pop3": (None, b"STLS\r\n"),
}
_GO = {"smtp": b"220", "imap": b"a OK", "pop3": b"+OK"}


def _reply(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n") or _continued(data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _continued(data: bytes) -> bool:
    last = data.rstrip(b"\r\n").split(b"\r\n")[-1]
    return len(last) > 3 and last[:3].isdigit() and last[3:4] == b"-"  # SMTP multi-line reply


def starttls_refusal(sock: socket.socket, protocol: str) -> str | None:
    """Greeting + STARTTLS; None when the server says go, else what it said."""
    try:
        greeting = _reply(sock)
    except TimeoutError:
        greeting = b""
    if not greeting:
        return "no greeting (the port waits for a TLS handshake: implicit TLS?)"
    ehlo, command = _STARTTLS[protocol]
    if ehlo:
        sock.sendall(ehlo)
        _reply(sock)
    sock.sendall(command)
    answer = _reply(sock)
    if protocol == "imap":
        answer = answer.rstrip(b"\r\n").split(b"\r\n")[-1]
    if not answer.startswith(_GO[protocol]):
        return f"STARTTLS refused: {answer.decode(errors='replace').strip()}"
    return None


def client_view(address: str, port: int, servername: str, ca_bundle: str, timeout: float = 4.0) -> str:
    """One line: `OK` or what a strict client reports (verification error, refused STARTTLS, failed handshake)."""
    if not is_lab_address(address):
        raise LabError(f"{address} is not a lab address; the demo client talks only to the lab")
    context = ssl.create_default_context(cafile=ca_bundle)
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            if port not in IMPLICIT_PORTS:
                refused = starttls_refusal(sock, PORT_PROTOCOL[port])
                if refused:
                    return refused
            with context.wrap_socket(sock, server_hostname=servername) as tls:
                return f"OK ({tls.version()})"
    except ssl.SSLCertVerificationError as exc:
        return f"certificate rejected: {exc.verify_message}"
    except ssl.SSLError as exc:
        return f"TLS handshake failed: {exc.reason or exc}"
    except TimeoutError:
        return "no answer (timeout)"
    except OSError as exc:
        return f"connection failed: {exc.strerror or exc}"
