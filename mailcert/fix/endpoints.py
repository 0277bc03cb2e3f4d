"""Before → after per (port, name) a client uses: the audit's probe against the re-probe after a change."""

from __future__ import annotations

from mailcert.fix.model import EndpointChange
from mailcert.model import ClientView, HostReport, Mode, Verdict

Key = tuple[str, int, Mode, str]  # service, port, mode, client name


def client_views(report: HostReport) -> dict[Key, ClientView]:
    """Every (service, port, mode, name) the probe dialled, with what it got and its verdict."""
    return {(e.service, e.port, e.mode, view.hostname): view for e in report.endpoints for view in e.clients}


def compared(before: HostReport, after: HostReport) -> tuple[EndpointChange, ...]:
    """Each (port, name) probed before, with what the re-probe saw; empty when either was not probed."""
    was, now = client_views(before), client_views(after)
    if not was or not now:
        return ()
    # a plan that puts a port in its right mode (587 STARTTLS, not implicit) changes the key, not the pair
    by_port = {(k[0], k[1], k[3]): v for k, v in now.items()}
    changes = []
    for key, view in was.items():
        seen = (
            now.get(key)
            or by_port.get((key[0], key[1], key[3]))
            or ClientView(
                key[3],
                Verdict.FAILS,
                f"the re-probe did not reach {key[3]} on port {key[1]} ({key[2].value})",
            )
        )
        changes.append(EndpointChange(key[0], key[1], key[2], view, seen))
    return tuple(changes)


def regressions_line(changes: tuple[EndpointChange, ...]) -> str | None:
    """`worse for clients on 2 (port, name): imap.example.test:993 ok → fails (cert.self-signed: …); …`."""
    worse = [c for c in changes if c.worse]
    if not worse:
        return None
    each = "; ".join(
        f"{c.hostname}:{c.port} {c.before.verdict.value} → {c.after.verdict.value}"
        + (f" ({c.after.reason})" if c.after.reason else "")
        for c in sorted(worse, key=lambda c: (c.service, c.port, c.hostname))
    )
    return f"worse for clients on {len(worse)} (port, name): {each}"
