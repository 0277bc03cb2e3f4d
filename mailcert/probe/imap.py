"""The IMAP side of a STARTTLS probe (RFC 9051/3501): greeting, CAPABILITY, STARTTLS."""

from __future__ import annotations

from mailcert.probe.wire import Wire, WireError

MAX_LINES = 100
GOODBYE = "z LOGOUT"


def negotiate(wire: Wire, first_line: str, ehlo_name: str) -> None:
    """Greeting → CAPABILITY → STARTTLS → OK. WireError says why TLS cannot start."""
    del ehlo_name  # IMAP has no client greeting
    status = first_line.split(" ", 2)[1].upper() if first_line.count(" ") >= 1 else ""
    if not first_line.startswith("* ") or status not in ("OK", "PREAUTH", "BYE"):
        raise WireError("unexpected-reply", "not an IMAP greeting", first_line[:200])
    if status == "BYE":
        raise WireError("rejected", "the server refused the session (BYE)", first_line)
    if status == "PREAUTH":
        raise WireError(
            "plaintext-no-starttls",
            "the server pre-authenticated the session; STARTTLS is not allowed",
            first_line,
        )
    wire.send_line("a CAPABILITY")
    lines = _tagged(wire, "a", "the CAPABILITY reply")
    capabilities = {
        word.upper() for line in lines if line.upper().startswith("* CAPABILITY") for word in line.split()[2:]
    }
    if "STARTTLS" not in capabilities:
        wire.say(GOODBYE)
        raise WireError("plaintext-no-starttls", "STARTTLS is not in the CAPABILITY list", "\n".join(lines))
    wire.send_line("b STARTTLS")
    done = _tagged(wire, "b", "the STARTTLS reply")[-1]
    if done.upper().split()[1:2] != ["OK"]:
        wire.say(GOODBYE)
        raise WireError("starttls-refused", "STARTTLS was refused", done)


def _tagged(wire: Wire, tag: str, waiting_for: str) -> list[str]:
    lines: list[str] = []
    while len(lines) < MAX_LINES:
        try:
            line = wire.read_line(waiting_for)
        except WireError as exc:
            raise WireError(exc.kind, exc.reason, "\n".join(lines) or exc.reply) from None
        lines.append(line)
        if line.startswith(f"{tag} "):
            return lines
        if line.upper().startswith("* BYE"):
            raise WireError("rejected", "the server ended the session (BYE)", line)
    raise WireError("unexpected-reply", f"{waiting_for} longer than {MAX_LINES} lines", lines[0])
