"""HTTPS for the client-configuration documents: connect to the address OUR resolver gave (never the
system's), present the name as SNI, capture the served chain unverified (judged later, as for mail ports),
send one HTTP/1.0 request, and follow no redirects (MTA-STS senders must not; we report them instead)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from mailcert.probe.wire import Wire, WireError

MAX_BODY = 256 * 1024
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class WebFetch:
    """One HTTPS request and what came back; `error` says why there is no usable answer."""

    host: str
    path: str
    address: str | None
    chain_der: tuple[bytes, ...] = ()
    status: int | None = None
    body: bytes = b""
    location: str | None = None
    error: str | None = None
    connected: bool = False  # TCP connect worked (a refusal means "not offered", not a fault)

    @property
    def url(self) -> str:
        return f"https://{self.host}{self.path}"


def fetch(
    host: str,
    path: str,
    address: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    content_type: str = "text/xml",
    timeout: float = DEFAULT_TIMEOUT,
) -> WebFetch:
    """GET/POST https://host/path at `address`. Never raises for what the network or server does."""
    base = WebFetch(host, path, address)
    deadline = time.monotonic() + 3 * timeout
    try:
        wire = Wire.connect(address, 443, connect_timeout=timeout, read_timeout=timeout, deadline=deadline)
    except WireError as exc:
        return replace(base, error=exc.reason)
    try:
        try:
            session = wire.start_tls(host)
        except WireError as exc:
            return replace(base, error=f"TLS handshake failed: {exc.reason}", connected=True)
        base = replace(base, chain_der=session.chain_der, connected=True)
        head = [f"{method} {path} HTTP/1.0", f"Host: {host}", "User-Agent: mailcert", "Connection: close"]
        if body is not None:
            head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + (body or b"")
        try:
            wire.sock.settimeout(timeout)
            wire.sock.sendall(request)
            raw = _read_all(wire, deadline)
        except OSError as exc:  # TimeoutError is one too
            return replace(base, error=f"no HTTP answer: {exc.strerror or 'timed out'}")
    finally:
        wire.close()
    return _parse_response(base, raw)


def _read_all(wire: Wire, deadline: float) -> bytes:
    data = b""
    while len(data) <= MAX_BODY and time.monotonic() < deadline:
        chunk = wire.sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _parse_response(base: WebFetch, raw: bytes) -> WebFetch:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2) if lines else []
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return replace(base, error="the answer is not HTTP")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    status = int(parts[1])
    error = None if status == 200 else f"HTTP {status}{' ' + parts[2] if len(parts) > 2 else ''}"
    return replace(base, status=status, body=body[:MAX_BODY], location=headers.get("location"), error=error)
