"""A client's verdict on one (port, name), from the findings the chain/name/validity/key checks made for it.

The same findings decide it whether they came from the wire (the probe's check_probe) or from the files a
service is configured with (lint's check_cert_source): there is one judge, and this only reads its findings.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509

from mailcert.model import ClientView, Finding, Severity, Verdict
from mailcert.pki.certinfo import common_name, not_after, san_dns_names, san_ip_addresses, sha256_hex

# Findings that are not about what a client is served and accepts: the served leaf differing from the file
# (tls.stale), one name served different leaves on different ports, the key file's mode.
NOT_CLIENT_SIDE = frozenset({"tls.stale", "tls.inconsistent", "key.permissions"})
CLIENT_SIDE = ("cert.", "key.", "tls.", "config.cert-not-fullchain")


def client_verdict(
    findings: Iterable[Finding], hostname: str, *, ignored: frozenset[str] = frozenset()
) -> tuple[Verdict, str | None]:
    """The verdict of a client dialing `hostname`, and the first reason (critical before warning)."""
    relevant = [
        f
        for f in findings
        if f.check.startswith(CLIENT_SIDE)
        and f.check not in NOT_CLIENT_SIDE
        and f.check not in ignored
        and f.hostname in (None, hostname)
    ]
    for severity, verdict in ((Severity.CRITICAL, Verdict.FAILS), (Severity.WARNING, Verdict.WARNING)):
        worst = [f for f in relevant if f.severity is severity]
        if worst:
            return verdict, f"{worst[0].check}: {worst[0].message}"
    return Verdict.OK, None


def client_view(
    hostname: str,
    findings: Iterable[Finding],
    leaf: x509.Certificate | None,
    *,
    ignored: frozenset[str] = frozenset(),
) -> ClientView:
    """`hostname`'s view of an endpoint serving `leaf` (None: nothing served), judged from `findings`."""
    verdict, reason = client_verdict(findings, hostname, ignored=ignored)
    if leaf is None:
        return ClientView(hostname, verdict, reason)
    return ClientView(
        hostname,
        verdict,
        reason,
        subject=common_name(leaf.subject),
        sha256=sha256_hex(leaf),
        not_after=not_after(leaf),
        sans=(*san_dns_names(leaf), *san_ip_addresses(leaf)),
    )


def got_worse(before: ClientView, after: ClientView) -> bool:
    return after.verdict.rank > before.verdict.rank


def short(view: ClientView) -> str:
    """`'mail.example.test' [mail.example.test, imap…] until 2027-03-01 sha256 …1a2b3c4d: ok`."""
    if view.sha256 is None:
        served = "nothing served"
    else:
        names = ", ".join(view.sans) if view.sans else "no SAN"
        until = f" until {view.not_after:%Y-%m-%d}" if view.not_after else ""
        served = f"'{view.subject or ''}' [{names}]{until} sha256 …{view.sha256[-8:]}"
    verdict = view.verdict.value + (f" ({view.reason})" if view.reason else "")
    return _visible(f"{served}: {verdict}")


def _visible(text: str) -> str:
    """One line with no control character: CN and SANs come from the host's certificate (hostile input)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
