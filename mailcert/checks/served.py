"""Findings from what a client got on the wire: connection-level faults, every cert.* check on the served
chain, a served leaf that differs from the configured one (tls.stale), and one hostname served different
certificates on different ports (tls.inconsistent)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cryptography import x509

from mailcert.catalogue import Where
from mailcert.checks.certs import CheckOptions, check_chain
from mailcert.model import Finding, Mode, ServedCert, Severity
from mailcert.pki.certinfo import describe, not_after, san_dns_names, san_ip_addresses, sha256_hex
from mailcert.probe.registry import PROTOCOL_LABELS
from mailcert.probe.result import Observed, ProbeResult

_RELOAD = (
    "reload the service after every renewal (postfix reload; doveadm reload; systemctl reload exim4, or exim on "
    "RHEL)"
)


def served_chain(result: ProbeResult) -> tuple[list[x509.Certificate], list[int]]:
    """The served certificates, leaf first, and the positions of any that cannot be parsed."""
    chain: list[x509.Certificate] = []
    bad: list[int] = []
    for index, der in enumerate(result.chain_der):
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError:
            bad.append(index)
    return chain, bad


def served_cert(result: ProbeResult) -> ServedCert | None:
    """The report's view of the served leaf; None when no TLS session was established or the leaf is junk."""
    if result.tls_mode is None or not result.chain_der:
        return None
    try:
        leaf = x509.load_der_x509_certificate(result.chain_der[0])
    except ValueError:
        return None
    return ServedCert(
        sha256=sha256_hex(leaf),
        not_after=not_after(leaf),
        sans=(*san_dns_names(leaf), *san_ip_addresses(leaf)),
        chain_length=len(result.chain_der),
        tls_version=result.tls_version or "",
    )


def check_probe(
    result: ProbeResult,
    opts: CheckOptions,
    *,
    configured_sha256: str | None = None,
    configured_not_after: datetime | None = None,
    service: str | None = None,
) -> list[Finding]:
    """Everything a client connecting to this endpoint would hit, plus tls.stale when the configured leaf
    (`configured_sha256`, as on disk) is not the one served."""
    where = Where(service=service or result.service, port=result.port)
    findings = _connection(result, where)
    if result.tls_mode is None:
        return findings
    chain, bad = served_chain(result)
    if not result.chain_der or bad:
        what = (
            "no certificate" if not result.chain_der else f"certificate #{bad[0] + 1} that cannot be parsed"
        )
        findings.append(
            _finding(
                where,
                result,
                "tls.handshake-failed",
                f"the server sent {what}",
                "serve a PEM certificate chain",
            )
        )
    if chain and not bad:
        findings += check_chain(chain, [result.hostname], opts, where)
    if chain and configured_sha256 is not None:
        findings += _stale(result, chain[0], configured_sha256, configured_not_after, where)
    return findings


def check_consistency(results: Iterable[ProbeResult]) -> list[Finding]:
    """tls.inconsistent: one hostname, different served leaves on different ports."""
    leaves: dict[str, dict[str, list[int]]] = {}
    for result in results:
        cert = served_cert(result)
        if cert is not None:
            ports = leaves.setdefault(result.hostname.lower(), {}).setdefault(cert.sha256, [])
            ports.append(result.port)
    findings: list[Finding] = []
    for hostname, by_leaf in leaves.items():
        if len(by_leaf) < 2:
            continue
        parts = [
            f"{', '.join(str(p) for p in sorted(ports))} → sha256 …{sha[-8:]}"
            for sha, ports in sorted(by_leaf.items(), key=lambda item: min(item[1]))
        ]
        findings.append(
            Finding(
                check="tls.inconsistent",
                severity=Severity.WARNING,
                message=f"{hostname} gets different certificates on different ports: {'; '.join(parts)}",
                fix="configure the same (current) certificate for every service of this name, then reload them",
                hostname=hostname,
            )
        )
    return findings


def mode_phrase(result: ProbeResult) -> str:
    """'587 speaks implicit TLS' / '465 speaks plaintext SMTP' / '993 speaks STARTTLS'."""
    label = PROTOCOL_LABELS.get(result.protocol or "", (result.protocol or "").upper() or "plaintext")
    if result.observed is Observed.IMPLICIT:
        return f"{result.port} speaks implicit TLS"
    if result.observed is Observed.STARTTLS:
        return f"{result.port} speaks plaintext {label} with STARTTLS, not implicit TLS"
    return f"{result.port} speaks plaintext {label}"


def _connection(result: ProbeResult, where: Where) -> list[Finding]:
    observed, reply = result.observed, _quote(result.server_reply)
    findings: list[Finding] = []
    if result.mode_mismatch:
        expected = "implicit TLS" if result.expected_mode is Mode.IMPLICIT else "STARTTLS"
        clients = (
            "clients set to SSL/TLS get 'wrong version number' or time out"
            if result.expected_mode is Mode.IMPLICIT
            else "clients set to STARTTLS wait for a greeting and time out"
        )
        findings.append(
            _finding(
                where,
                result,
                "config.mode-mismatch",
                f"{mode_phrase(result)}, but clients expect {expected} there: {clients}",
                _mode_fix(result),
            )
        )
    if observed is Observed.UNREACHABLE:
        if not result.required:
            return [
                _finding(
                    where,
                    result,
                    "tls.unreachable",
                    f"port {result.port} ({result.service or 'mail'}) is not offered: {result.error}",
                    "nothing to do unless clients are told to use this port",
                    severity=Severity.INFO,
                )
            ]
        findings.append(
            _finding(
                where,
                result,
                "tls.unreachable",
                f"{_label(result)} is unreachable: {result.error}",
                f"start the service and open port {result.port} in the firewall, or stop telling clients to use it",
            )
        )
    elif observed in (Observed.SILENT, Observed.CLOSED, Observed.GARBLED, Observed.REJECTED):
        findings.append(
            _finding(
                where,
                result,
                "tls.unreachable",
                f"{_label(result)} does not serve mail clients: {result.error}{reply}",
                "check the service's log at the time of the probe (a tarpit, postscreen, a connection limit, "
                "or a different program on this port)",
            )
        )
    elif observed in (Observed.PLAINTEXT, Observed.STARTTLS_REFUSED) and not result.mode_mismatch:
        findings.append(
            _finding(
                where,
                result,
                "tls.starttls-unavailable",
                f"{_label(result)}: {result.error}{reply}",
                _starttls_fix(result),
            )
        )
    elif observed is Observed.HANDSHAKE_FAILED:
        findings.append(
            _finding(
                where,
                result,
                "tls.handshake-failed",
                f"TLS handshake with {_label(result)} fails: {result.error}",
                "read the service's log: a certificate/key mismatch or an unreadable key disables TLS; "
                "a wrong mode on this port shows as 'wrong version number'",
            )
        )
    if result.legacy_only and result.tls_mode is not None:
        findings.append(
            _finding(
                where,
                result,
                "tls.handshake-failed",
                f"current clients cannot complete the handshake with {_label(result)} ({result.error}); "
                f"it only worked allowing legacy protocols ({result.tls_version})",
                "enable TLS 1.2 and 1.3 on the server",
            )
        )
        findings.append(
            _finding(
                where,
                result,
                "config.legacy-protocols",
                f"{_label(result)} offers nothing newer than {result.tls_version}",
                "allow TLSv1.2 and TLSv1.3 (Postfix: smtpd_tls_protocols = >=TLSv1.2; "
                "Dovecot: ssl_min_protocol = TLSv1.2)",
                severity=Severity.CRITICAL,
            )
        )
    return findings


def _stale(
    result: ProbeResult,
    leaf: x509.Certificate,
    configured_sha256: str,
    configured_not_after: datetime | None,
    where: Where,
) -> list[Finding]:
    configured = configured_sha256.replace(":", "").lower()
    served = sha256_hex(leaf)
    if served == configured:
        return []
    on_disk = f"sha256 …{configured[-8:]}"
    if configured_not_after is not None:
        on_disk += f", expires {configured_not_after:%Y-%m-%d}"
    return [
        _finding(
            where,
            result,
            "tls.stale",
            f"{_label(result)} serves certificate {describe(leaf)} serial {leaf.serial_number:x}, expires "
            f"{not_after(leaf):%Y-%m-%d}, but the configured file on disk holds another ({on_disk}): renewed but "
            "not reloaded, a stale SNI map, or an old lineage",
            f"{_RELOAD}; re-run postmap -F on SNI maps; point the config at the current lineage",
        )
    ]


def _finding(
    where: Where,
    result: ProbeResult,
    check: str,
    message: str,
    fix: str,
    *,
    severity: Severity | None = None,
) -> Finding:
    return where.finding(check, message, fix, hostname=result.hostname, severity=severity)


def _label(result: ProbeResult) -> str:
    via = f" (via {result.address})" if result.address and result.address != result.hostname else ""
    return f"{result.hostname}:{result.port}{via}"


def _quote(reply: str | None) -> str:
    if not reply:
        return ""
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    text = " / ".join(lines[-3:]) if len(lines) > 3 else " / ".join(lines)
    return f' (server said: "{text[:300]}")'


def _mode_fix(result: ProbeResult) -> str:
    postfix = result.protocol == "smtp"
    if result.expected_mode is Mode.IMPLICIT:
        if postfix:
            return f"Postfix master.cf: give the port {result.port} entry `-o smtpd_tls_wrappermode=yes`"
        return f"Dovecot: set `ssl = yes` in the inet_listener for port {result.port}"
    if postfix:
        return (
            f"Postfix master.cf: remove `-o smtpd_tls_wrappermode=yes` from the port {result.port} entry "
            "(an indented -o line continues the entry above it, even across comments)"
        )
    return f"Dovecot: remove `ssl = yes` from the inet_listener for port {result.port}"


def _starttls_fix(result: ProbeResult) -> str:
    if result.observed is Observed.STARTTLS_REFUSED:
        return (
            "the server cannot load its certificate or key: read its log (Postfix: 'disabling TLS support'), "
            "fix the cert/key files (key must match the leaf, leaf first), then reload"
        )
    if result.protocol == "smtp":
        return "Postfix: set smtpd_tls_security_level = may (25) or encrypt (587) with a certificate and key"
    return "Dovecot: set ssl = yes (or required) with ssl_cert/ssl_key"
