"""A daemon whose TLS is broken on the wire although its files are sound now: reload it.

The usual way there: the key or certificate was broken when the daemon last loaded them (Postfix answers
STARTTLS with 454, Dovecot's handshake fails), and then someone (certbot, an admin) put sound files in place
without a reload. Lint finds nothing in the files and the probe still fails; only a reload serves the sound
files. With a problem in the service's files still there, a reload would load it again: nothing is planned
here then (the edit that fixes the file brings its own reload).
"""

from __future__ import annotations

from mailcert.fix.plan.base import PlanState

# Failures of the TLS handshake itself (not a certificate a client rejects), seen by the probe only.
BROKEN_ON_THE_WIRE = frozenset({"tls.handshake-failed", "tls.starttls-unavailable"})


def reload_when_files_are_sound(state: PlanState, service: str) -> None:
    """Reload `service` for the handshake failures the probe saw when lint finds nothing in its files."""
    problems = [f for f in state.problems() if f.service == service]
    broken = [
        f for f in problems if f.check in BROKEN_ON_THE_WIRE and f.file is None and f not in state.covered
    ]
    if not broken or any(f.file is not None for f in problems):
        return
    state.reload_service(service, broken)
