"""The SMTP side of a STARTTLS probe (RFC 3207): greeting, EHLO, STARTTLS. One command at a time, no pipelining."""

from __future__ import annotations

from mailcert.probe.wire import Wire, WireError

MAX_REPLY_LINES = 100
GOODBYE = "QUIT"


def read_reply(wire: Wire, first: str | None, waiting_for: str) -> tuple[int, list[str]]:
    """One (multi-line) reply: `250-a`, `250-b`, `250 c` → (250, [...]). `first` is a line already read."""
    lines: list[str] = []
    line = first if first is not None else wire.read_line(waiting_for)
    while True:
        if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
            raise WireError(
                "unexpected-reply", f"not an SMTP reply while waiting for {waiting_for}", line[:200]
            )
        lines.append(line)
        if len(line) == 3 or line[3] == " ":
            return int(line[:3]), lines
        if len(lines) >= MAX_REPLY_LINES:
            raise WireError(
                "unexpected-reply", f"{waiting_for} longer than {MAX_REPLY_LINES} lines", lines[0]
            )
        try:
            line = wire.read_line(waiting_for)
        except WireError as exc:
            raise WireError(exc.kind, exc.reason, "\n".join(lines)) from None


def negotiate(wire: Wire, first_line: str, ehlo_name: str) -> None:
    """Greeting → EHLO → STARTTLS → 220. WireError says why TLS cannot start (rejected, no STARTTLS, 454)."""
    code, greeting = read_reply(wire, first_line, "the SMTP greeting")
    if code != 220:
        # 421 (busy, too many connections), 554 (no service for you), 450: the server turns the client away.
        raise WireError("rejected", f"the server refused the session with {code}", "\n".join(greeting))
    wire.send_line(f"EHLO {ehlo_name}")
    code, ehlo = read_reply(wire, None, "the EHLO reply")
    if code != 250:
        # 421/450/554: turned away; 500/502: no ESMTP, so no STARTTLS either.
        kind = "plaintext-no-starttls" if code in (500, 502) else "rejected"
        wire.say(GOODBYE)
        raise WireError(kind, f"EHLO {ehlo_name} was answered with {code}", "\n".join(ehlo))
    keywords = {line[4:].split(" ", 1)[0].upper() for line in ehlo[1:]}
    if "STARTTLS" not in keywords:
        wire.say(GOODBYE)
        raise WireError(
            "plaintext-no-starttls", "STARTTLS is not advertised in the EHLO reply", "\n".join(ehlo)
        )
    wire.send_line("STARTTLS")
    code, answer = read_reply(wire, None, "the STARTTLS reply")
    if code != 220:
        wire.say(GOODBYE)
        raise WireError("starttls-refused", f"STARTTLS was answered with {code}", "\n".join(answer))
