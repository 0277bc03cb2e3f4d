"""cert.* checks on a chain as a client receives it (leaf first): validity, names, trust, order, usage, strength.

Used for served chains (probe) and for the chain a config file would serve (lint); `now` and the trust store
come in through CheckOptions, so `--at` and `--ca-bundle` reach every decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from mailcert.catalogue import Where
from mailcert.model import Finding, Severity
from mailcert.pki.certinfo import (
    common_name,
    describe,
    has_san,
    is_self_signed,
    key_info,
    not_after,
    not_before,
    san_dns_names,
    san_ip_addresses,
    server_auth_allowed,
    signature_hash_name,
)
from mailcert.pki.chain import PathStatus, build_path, order_problems
from mailcert.pki.names import covers
from mailcert.pki.trust import TrustStore
from mailcert.quoting import shell_command


@dataclass(frozen=True)
class CheckOptions:
    now: datetime
    trust: TrustStore
    warn_days: int = 21
    crit_days: int = 7


def check_chain(
    chain: Sequence[x509.Certificate],
    hostnames: Sequence[str],
    opts: CheckOptions,
    where: Where,
    *,
    fill: Sequence[x509.Certificate] = (),
    report_incomplete: bool = True,
) -> list[Finding]:
    """Every cert.* finding for `chain`. `fill` are certificates the server's TLS library adds to the served
    chain by itself (Postfix smtpd_tls_CAfile); `report_incomplete=False` when a more specific finding
    (config.cert-not-fullchain) already says the chain is incomplete."""
    if not chain:
        return []
    leaf = chain[0]
    findings = _validity(leaf, opts, where, role="certificate")
    findings += _names(leaf, hostnames, where)
    findings += _usage_and_strength(leaf, where)
    result = build_path(chain, opts.trust, fill)
    findings += _trust(result.status, result.missing_issuer, leaf, chain, where, report_incomplete)
    for intermediate in result.path[1:]:
        if opts.trust.contains(intermediate):
            continue
        findings += _validity(intermediate, opts, where, role="intermediate")
        findings += _strength(intermediate, where, role="intermediate")
    problems = order_problems(chain)
    if problems:
        findings.append(
            where.finding(
                "cert.chain-order",
                "served chain is out of order: " + "; ".join(problems),
                "put the leaf first, then its issuer, then that one's issuer (certbot's fullchain.pem is in order)",
            )
        )
    return findings


def _validity(cert: x509.Certificate, opts: CheckOptions, where: Where, *, role: str) -> list[Finding]:
    label = f"{role} {describe(cert)}"
    end, start = not_after(cert), not_before(cert)
    if end <= opts.now:
        return [
            where.finding(
                "cert.expired",
                f"{label} expired on {end:%Y-%m-%d %H:%M} UTC",
                "renew the certificate and reload the services that use it",
            )
        ]
    if start > opts.now:
        return [
            where.finding(
                "cert.not-yet-valid",
                f"{label} is not valid before {start:%Y-%m-%d %H:%M} UTC (check the clocks of server and clients)",
                "fix the clock that is wrong, or wait; issue certificates with a notBefore in the past",
            )
        ]
    days_left = (end - opts.now).total_seconds() / 86400
    if days_left <= opts.warn_days:
        severity = Severity.CRITICAL if days_left <= opts.crit_days else Severity.WARNING
        return [
            where.finding(
                "cert.expiring",
                f"{label} expires in {days_left:.0f} days ({end:%Y-%m-%d} UTC)",
                "renew it now (certbot renew) and check that renewal runs and reloads the services",
                severity=severity,
            )
        ]
    return []


def _names(leaf: x509.Certificate, hostnames: Sequence[str], where: Where) -> list[Finding]:
    if not has_san(leaf):
        return [
            where.finding(
                "cert.no-san",
                f"certificate {describe(leaf)} has no subjectAltName; Apple Mail and current clients ignore the "
                f"CN '{common_name(leaf.subject)}'",
                "issue a certificate that lists every mail hostname as a DNS subjectAltName",
            )
        ]
    dns, ips = san_dns_names(leaf), san_ip_addresses(leaf)
    listed = ", ".join([*dns, *ips]) or "no names"
    return [
        where.finding(
            "cert.name-mismatch",
            f"'{name}' is not covered by certificate {describe(leaf)}, which names: {listed}",
            f"issue or expand the certificate to include {name} (e.g. `{shell_command('certbot', '--expand', '-d', name)}`); "
            "a wildcard covers one label only",
            hostname=name,
        )
        for name in hostnames
        if not covers(dns, ips, name)
    ]


def _usage_and_strength(leaf: x509.Certificate, where: Where) -> list[Finding]:
    findings: list[Finding] = []
    allowed, why = server_auth_allowed(leaf)
    if not allowed:
        findings.append(
            where.finding(
                "cert.wrong-usage",
                f"certificate {describe(leaf)} may not be used by a TLS server: {why}",
                "issue a certificate with extendedKeyUsage serverAuth (and keyUsage digitalSignature)",
            )
        )
    return findings + _strength(leaf, where, role="certificate")


def _strength(cert: x509.Certificate, where: Where, *, role: str) -> list[Finding]:
    findings: list[Finding] = []
    info = key_info(cert)
    if (info.algorithm == "RSA" and info.bits < 2048) or (info.algorithm == "EC" and info.bits < 256):
        findings.append(
            where.finding(
                "cert.weak-key",
                f"{role} {describe(cert)} has a {info.bits}-bit {info.algorithm} key",
                "issue a new certificate with an RSA 2048+ or ECDSA P-256+ key",
            )
        )
    digest = signature_hash_name(cert)
    if digest in ("sha1", "md5", "md2") and not is_self_signed(cert):
        findings.append(
            where.finding(
                "cert.weak-signature",
                f"{role} {describe(cert)} is signed with {digest.upper()}, which clients reject",
                "reissue it with a SHA-256 signature (and serve the CA's current SHA-256 intermediate)",
            )
        )
    return findings


def _trust(
    status: PathStatus,
    missing: x509.Name | None,
    leaf: x509.Certificate,
    chain: Sequence[x509.Certificate],
    where: Where,
    report_incomplete: bool,
) -> list[Finding]:
    if status is PathStatus.TRUSTED:
        return []
    if status is PathStatus.SELF_SIGNED:
        return [
            where.finding(
                "cert.self-signed",
                f"certificate {describe(leaf)} is self-signed; every client warns",
                "use a certificate from a public CA (mailcert fix issues one through ACME), or give clients "
                "your private root (--ca-bundle for mailcert)",
            )
        ]
    if status is PathStatus.UNTRUSTED_ROOT:
        root = chain[-1] if is_self_signed(chain[-1]) else leaf
        return [
            where.finding(
                "cert.untrusted",
                f"the chain ends at root {describe(root)}, which is not a trusted root",
                "use a certificate from a publicly trusted CA, or add your private root with --ca-bundle / "
                "mailcert_ca_bundle if clients trust it",
            )
        ]
    if not report_incomplete:
        return []
    issuer = common_name(missing) if missing is not None else "?"
    served = "only the leaf is served" if len(chain) == 1 else f"{len(chain)} certificates are served"
    return [
        where.finding(
            "cert.chain-incomplete",
            f"the issuer '{issuer}' of the last certificate is neither served nor a trusted root ({served}); "
            "Thunderbird and Android fail with 'unknown issuer'",
            "serve the full chain (certbot: fullchain.pem, not cert.pem); if "
            f"'{issuer}' is a private root, add it with --ca-bundle",
        )
    ]
