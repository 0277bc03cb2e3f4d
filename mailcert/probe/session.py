"""Probe one endpoint the way a mail client connects, and find out what the port really speaks.

Expected STARTTLS but no greeting → try implicit TLS ("587 speaks implicit TLS"). Expected implicit TLS but
the server answers the ClientHello in plaintext → run the plaintext dialogue ("465 speaks plaintext SMTP").
A handshake refused for the protocol version → retry allowing TLS 1.0/1.1, to see what such a server serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from mailcert.model import Mode
from mailcert.ports import DEFAULT_EHLO
from mailcert.probe import imap, pop3, smtp
from mailcert.probe.registry import sniff_protocol
from mailcert.probe.result import Observed, ProbeResult, ProbeTarget, Timeouts
from mailcert.probe.wire import Wire, WireError, is_plaintext_answer

Negotiate = Callable[[Wire, str, str], None]
DIALOGUES: dict[str, Negotiate] = {"smtp": smtp.negotiate, "imap": imap.negotiate, "pop3": pop3.negotiate}
GOODBYES: dict[str, str] = {"smtp": smtp.GOODBYE, "imap": imap.GOODBYE, "pop3": pop3.GOODBYE}

_LEGACY_HINTS = ("protocol version", "unsupported protocol", "no protocols available", "no ciphers available")


def probe_endpoint(
    target: ProbeTarget, *, ehlo_name: str = DEFAULT_EHLO, timeouts: Timeouts | None = None
) -> ProbeResult:
    """What a client connecting to `target` gets. Never raises for anything the server or network does."""
    limits = timeouts or Timeouts()
    deadline = time.monotonic() + limits.endpoint
    attempt = _Attempt(target, ehlo_name, limits, deadline)
    if target.expected_mode is Mode.STARTTLS:
        first = attempt.starttls(target.protocol)
        if first.observed is Observed.SILENT and not attempt.greeted:
            # Nothing at all came: an implicit-TLS port waits for our ClientHello.
            second = attempt.implicit(target.protocol)
            if second.tls_mode is not None:
                return replace(second, error=f"no plaintext greeting: {first.error}")
        return first
    first = attempt.implicit(target.protocol)
    if first.observed is Observed.HANDSHAKE_FAILED and is_plaintext_answer(first.error or ""):
        second = attempt.starttls(target.protocol)
        if second.observed not in (Observed.UNREACHABLE, Observed.SILENT, Observed.GARBLED):
            return replace(second, error=f"implicit TLS failed: {first.error}")
    return first


class _Attempt:
    def __init__(self, target: ProbeTarget, ehlo_name: str, timeouts: Timeouts, deadline: float) -> None:
        self.target = target
        self.ehlo_name = ehlo_name
        self.timeouts = timeouts
        self.deadline = deadline
        self.greeted = False  # a plaintext greeting line arrived on some attempt

    def implicit(self, protocol: str | None) -> ProbeResult:
        result = self._run(protocol, tls_first=True, legacy=False)
        if _legacy_worth_trying(result):
            legacy = self._run(protocol, tls_first=True, legacy=True)
            if legacy.tls_mode is not None:
                return replace(legacy, legacy_only=True, error=result.error)
        return result

    def starttls(self, protocol: str | None) -> ProbeResult:
        result = self._run(protocol, tls_first=False, legacy=False)
        if _legacy_worth_trying(result):
            legacy = self._run(protocol, tls_first=False, legacy=True)
            if legacy.tls_mode is not None:
                return replace(legacy, legacy_only=True, error=result.error)
        return result

    def _run(self, protocol: str | None, *, tls_first: bool, legacy: bool) -> ProbeResult:
        target = self.target
        base = ProbeResult(
            hostname=target.hostname,
            address=target.address,
            port=target.port,
            expected_mode=target.expected_mode,
            observed=Observed.UNREACHABLE,
            protocol=protocol,
            service=target.service,
            required=target.required,
        )
        try:
            wire = Wire.connect(
                target.connect_to,
                target.port,
                connect_timeout=self.timeouts.connect,
                read_timeout=self.timeouts.read,
                deadline=self.deadline,
            )
        except WireError as exc:
            return replace(base, observed=Observed.UNREACHABLE, error=exc.reason)
        try:
            if not tls_first:
                first_line = wire.read_line("the greeting")
                self.greeted = True
                protocol = protocol or sniff_protocol(first_line)
                base = replace(base, protocol=protocol)
                if protocol is None:
                    raise WireError(
                        "unexpected-reply", "the greeting is not SMTP, IMAP or POP3", first_line[:200]
                    )
                DIALOGUES[protocol](wire, first_line, self.ehlo_name)
            session = wire.start_tls(target.hostname, legacy=legacy)
            if protocol is not None:
                wire.say(GOODBYES[protocol])
        except WireError as exc:
            return replace(base, observed=Observed(exc.kind), error=exc.reason, server_reply=exc.reply)
        finally:
            wire.close()
        return replace(
            base,
            observed=Observed.IMPLICIT if tls_first else Observed.STARTTLS,
            chain_der=session.chain_der,
            tls_version=session.version,
            cipher=session.cipher,
        )


def _legacy_worth_trying(result: ProbeResult) -> bool:
    reason = (result.error or "").lower()
    return result.observed is Observed.HANDSHAKE_FAILED and any(hint in reason for hint in _LEGACY_HINTS)
