"""Which certificate files the services use, and which certbot lineage each one belongs to."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from mailcert.catalogue import default_severity
from mailcert.facts import HostFiles
from mailcert.model import Finding
from mailcert.services.certbot.model import CertbotState, Lineage
from mailcert.services.model import Location, ServiceConfig


@dataclass(frozen=True)
class CertUse:
    """One service setting that makes a port use a certificate (or key) file.

    `leaf_der` is the first certificate in `cert_path` (None if unreadable or a key file) and
    `cert_resolved` where symlinks lead; `cert_uses()` fills both, for copy and archive-link detection.
    """

    service: str
    port: int | None
    cert_path: str
    key_path: str | None
    setting: str
    location: Location | None = None
    leaf_der: bytes | None = None
    cert_resolved: str | None = None
    rebuilt_by: str | None = None  # the source's files are copied into a table by this command (postmap -F)


def cert_uses(services: Iterable[ServiceConfig], files: HostFiles) -> list[CertUse]:
    """Every (service, port, certificate file) of parsed services, default and SNI certificates alike."""
    uses: list[CertUse] = []
    leaves: dict[str, tuple[bytes | None, str | None]] = {}
    for service in services:
        for listener in service.listeners:
            if not listener.tls_enabled:
                continue
            for source in [*listener.certificates, *(sni.source for sni in listener.sni)]:
                for cert_path in source.cert_files:
                    if cert_path not in leaves:
                        facts = files.pem_file(cert_path)
                        leaves[cert_path] = (
                            facts.certificates[0] if facts.certificates else None,
                            facts.resolved,
                        )
                    leaf, resolved = leaves[cert_path]
                    use = CertUse(listener.service, listener.port, cert_path, source.key_file, source.setting)
                    uses.append(
                        replace(
                            use,
                            location=source.location,
                            leaf_der=leaf,
                            cert_resolved=resolved,
                            rebuilt_by=source.rebuilt_by,
                        )
                    )
    return uses


def _norm(path: str) -> str:
    return posixpath.normpath(path) if path.startswith("/") else path


def _in_dir(path: str, directory: str) -> bool:
    return _norm(path).startswith(_norm(directory).rstrip("/") + "/")


def lineage_of(state: CertbotState, path: str) -> tuple[Lineage, str] | None:
    """(lineage, "live"|"archive") for a path inside a lineage's live/ or archive/ directory."""
    for lineage in state.lineages:
        if _in_dir(path, lineage.live_dir) or _norm(path) in {
            _norm(p) for p in (lineage.cert, lineage.fullchain)
        }:
            return lineage, "live"
        if _in_dir(path, lineage.archive_dir):
            return lineage, "archive"
    return None


def copied_from(state: CertbotState, leaf_der: bytes | None) -> tuple[Lineage, int | None] | None:
    """The lineage whose current (None) or archived (N) certificate is byte-identical to `leaf_der`."""
    if leaf_der is None:
        return None
    for lineage in state.lineages:
        if lineage.leaf_der == leaf_der:
            return lineage, None
        for version in lineage.versions:
            if version.leaf_der == leaf_der:
                return lineage, version.number
    return None


def lineage_uses(state: CertbotState, uses: Sequence[CertUse]) -> dict[str, list[CertUse]]:
    """Uses per lineage name: through live/ or archive/ paths (copies are not renewals' business)."""
    used: dict[str, list[CertUse]] = {}
    for use in uses:
        for path in (use.cert_path, use.key_path, use.cert_resolved):
            found = lineage_of(state, path) if path else None
            if found is not None:
                used.setdefault(found[0].name, []).append(use)
                break
    return used


def where(uses: Sequence[CertUse]) -> str:
    """'postfix (ports 25, 587), dovecot (port 993)'."""
    ports: dict[str, list[int]] = {}
    for use in uses:
        ports.setdefault(use.service, [])
        if use.port is not None and use.port not in ports[use.service]:
            ports[use.service].append(use.port)
    parts = []
    for service, numbers in ports.items():
        numbers.sort()
        label = "port" if len(numbers) == 1 else "ports"
        parts.append(f"{service} ({label} {', '.join(map(str, numbers))})" if numbers else service)
    return ", ".join(parts)


def finding(
    check: str, message: str, fix: str, uses: Sequence[CertUse] = (), file: str | None = None
) -> Finding:
    services = {u.service for u in uses}
    ports = {u.port for u in uses}
    location = uses[0].location if uses and len({u.location for u in uses}) == 1 else None
    return Finding(
        check=check,
        severity=default_severity(check),
        message=message,
        fix=fix,
        service=services.pop() if len(services) == 1 else None,
        port=ports.pop() if len(ports) == 1 else None,
        file=file if file is not None else (location.file if location else None),
        line=None if file is not None else (location.line if location else None),
    )


def grouped(uses: Iterable[CertUse]) -> list[list[CertUse]]:
    """Uses that differ only by port (one main.cf setting serving 25, 465 and 587) reported once."""
    groups: dict[tuple[object, ...], list[CertUse]] = {}
    for use in uses:
        groups.setdefault((use.service, use.cert_path, use.key_path, use.setting, use.location), []).append(
            use
        )
    return list(groups.values())
