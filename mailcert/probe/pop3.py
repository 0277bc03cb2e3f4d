"""The POP3 side of a STARTTLS probe (RFC 2595/2449): greeting, CAPA, STLS."""

from __future__ import annotations

from mailcert.probe.wire import Wire, WireError

MAX_LINES = 100
GOODBYE = "QUIT"


def negotiate(wire: Wire, first_line: str, ehlo_name: str) -> None:
    """Greeting → CAPA → STLS → +OK. WireError says why TLS cannot start."""
    del ehlo_name  # POP3 has no client greeting
    if first_line.startswith("-ERR"):
        raise WireError("rejected", "the server refused the session", first_line)
    if not first_line.startswith("+OK"):
        raise WireError("unexpected-reply", "not a POP3 greeting", first_line[:200])
    wire.send_line("CAPA")
    answer = wire.read_line("the CAPA reply")
    capabilities: list[str] = []
    if answer.startswith("+OK"):
        capabilities = _multiline(wire)
        if "STLS" not in {line.split(" ", 1)[0].upper() for line in capabilities}:
            wire.say(GOODBYE)
            raise WireError(
                "plaintext-no-starttls", "STLS is not in the CAPA list", "\n".join([answer, *capabilities])
            )
    # Without CAPA (RFC 1939-only server) STLS may still work: ask, as clients do.
    wire.send_line("STLS")
    reply = wire.read_line("the STLS reply")
    if not reply.startswith("+OK"):
        wire.say(GOODBYE)
        kind = "starttls-refused" if capabilities else "plaintext-no-starttls"
        raise WireError(kind, "STLS was refused", reply)


def _multiline(wire: Wire) -> list[str]:
    lines: list[str] = []
    while len(lines) < MAX_LINES:
        line = wire.read_line("the CAPA list")
        if line == ".":
            return lines
        lines.append(line[1:] if line.startswith("..") else line)
    raise WireError("unexpected-reply", f"CAPA list longer than {MAX_LINES} lines", lines[0])
