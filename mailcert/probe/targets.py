"""`probe TARGET...` words → endpoints: `host`, `host:port`, `[v6]:port`, with --servername/--address/--protocol."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mailcert.errors import UsageError
from mailcert.model import Mode
from mailcert.probe.registry import PROTOCOLS, STANDARD_PORTS, role_for
from mailcert.probe.result import ProbeTarget


@dataclass(frozen=True)
class TargetOptions:
    servername: str | None = None  # SNI and certificate name; the TARGET host is then only where to connect
    address: str | None = None  # connect here instead of resolving the host
    protocol: str | None = None  # smtp, imap, pop3: for non-standard ports
    mode: Mode | None = None  # --starttls / --implicit


def parse_target(word: str) -> tuple[str, int | None]:
    """`mail.example.com` → (name, None); `mail.example.com:587` → (name, 587); `[2001:db8::1]:993`."""
    text = word.strip()
    if not text:
        raise UsageError("empty probe target", todo="give host or host:port")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise UsageError(
                f"probe target {word!r} is not [ADDRESS]:PORT", todo="write e.g. [2001:db8::1]:993"
            )
        return host, _port(rest[1:], word) if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port, word)
    return text, None  # a bare name, or a bare IPv6 address


def expand_targets(words: list[str], options: TargetOptions) -> list[ProbeTarget]:
    """One ProbeTarget per endpoint: every standard port for a bare host, else the port given."""
    if options.protocol is not None and options.protocol not in PROTOCOLS:
        raise UsageError(
            f"--protocol {options.protocol!r} is not known", todo=f"use one of: {', '.join(PROTOCOLS)}"
        )
    targets: list[ProbeTarget] = []
    for word in words:
        host, port = parse_target(word)
        hostname = options.servername or host
        address = options.address or (host if options.servername and options.servername != host else None)
        if port is None:
            if options.protocol or options.mode:
                raise UsageError(
                    f"--protocol/--starttls/--implicit need a port, but {word!r} has none",
                    todo=f"write {word}:PORT, or leave them out to probe the standard ports",
                )
            targets += [
                ProbeTarget(hostname, p, r.protocol, r.mode, address, r.service, required=False)
                for p, r in STANDARD_PORTS.items()
            ]
            continue
        role = role_for(port, options.protocol, options.mode)
        target = ProbeTarget(hostname, port, address=address)
        if role is not None:
            target = replace(target, protocol=role.protocol, expected_mode=role.mode, service=role.service)
        elif options.mode is not None:
            target = replace(target, expected_mode=options.mode)
        targets.append(target)
    return targets


def _port(text: str, word: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"probe target {word!r} has no valid port", todo="write host:PORT with PORT 1-65535")
    return int(text)
