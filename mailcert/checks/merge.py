"""One finding per problem, not per (name × port): probing 4 names on 7 ports of a host whose one stale
certificate is served everywhere must say so once, listing where."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mailcert.model import Finding

# Checks whose subject is the name itself: each uncovered name stays its own finding.
_PER_NAME = frozenset({"cert.name-mismatch", "dns.mx-not-covered", "dns.srv-mismatch", "tls.inconsistent"})


def merge_endpoint_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Fold findings that differ only in the endpoint (`host:port` in the text, hostname, port)."""
    groups: dict[tuple[object, ...], list[Finding]] = {}
    for finding in findings:
        groups.setdefault(_key(finding), []).append(finding)
    merged: list[Finding] = []
    for members in groups.values():
        if len(members) == 1:
            merged.append(members[0])
            continue
        first = members[0]
        endpoints = list(dict.fromkeys(_endpoint(f) for f in members))
        ports = sorted({f.port for f in members if f.port is not None})
        names = sorted({f.hostname for f in members if f.hostname})
        also = ", ".join(endpoints[1:])
        if not names and also:
            also = ("port " if len(endpoints) == 2 else "ports ") + also
        merged.append(
            replace(
                first,
                port=ports[0] if len(ports) == 1 else None,
                hostname=names[0] if len(names) == 1 else None,
                message=f"{first.message} [also {also}]" if also else first.message,
            )
        )
    return merged


def _endpoint(finding: Finding) -> str:
    if finding.hostname and finding.port is not None:
        return f"{finding.hostname}:{finding.port}"
    return finding.hostname or (str(finding.port) if finding.port is not None else "")


def _key(finding: Finding) -> tuple[object, ...]:
    message, fix = finding.message, finding.fix
    if finding.hostname and finding.port is not None:
        here = f"{finding.hostname}:{finding.port}"
        message, fix = message.replace(here, "{endpoint}"), fix.replace(here, "{endpoint}")
    if finding.port is not None:
        message = message.replace(f"port {finding.port}", "port {port}")
        fix = fix.replace(f"port {finding.port}", "port {port}")
    per_name = finding.hostname if finding.check in _PER_NAME else None
    return (
        finding.check,
        finding.severity,
        finding.service,
        finding.file,
        finding.line,
        message,
        fix,
        per_name,
    )
