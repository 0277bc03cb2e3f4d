"""cert.* checks on a chain as a client receives it (leaf first): validity, names, trust, order, usage, strength,
all decided by the one chain judge (mailcert.pki.judge) and worded here as catalogue findings.

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
    is_self_signed,
    not_after,
    not_before,
    readable,
    san_dns_names,
    san_ip_addresses,
)
from mailcert.pki.chain import PathStatus, order_problems
from mailcert.pki.judge import Fault, Problem, judge_chain
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
    """Every cert.* finding for `chain`, from the one chain judge (mailcert.pki.judge). `fill` are certificates
    the server's TLS library adds to the served chain by itself (Postfix smtpd_tls_CAfile);
    `report_incomplete=False` when a more specific finding (config.cert-not-fullchain) already says the chain
    is incomplete."""
    if not chain:
        return []
    if not readable(chain[0]):
        return [
            where.finding(
                "cert.unparsable",
                "the certificate's names or validity dates cannot be decoded; clients refuse it",
                "replace it with a certificate from your CA (certbot: fullchain.pem)",
            )
        ]
    judgement = judge_chain(chain, opts.trust, now=opts.now, hostnames=hostnames, fill=fill)
    faults = judgement.findings
    path = judgement.path
    leaf = chain[0]
    anchor_from = path.trusted_from if path.trusted_from is not None else len(path.path)
    findings = _validity(leaf, faults, 0, opts, where, role="certificate")
    findings += _names(leaf, faults, where)
    findings += _at_depth(faults, 0, where)
    findings += _trust(path.status, path.missing_issuer, leaf, chain, where, report_incomplete)
    for depth, issuer in enumerate(path.path[1:], start=1):
        role = "root" if depth >= anchor_from else "intermediate"
        findings += _validity(issuer, faults, depth, opts, where, role=role)
        findings += _at_depth(faults, depth, where)
    problems = order_problems([c for c in chain if readable(c)])
    if problems:
        findings.append(
            where.finding(
                "cert.chain-order",
                "served chain is out of order: " + "; ".join(problems),
                "put the leaf first, then its issuer, then that one's issuer (certbot's fullchain.pem is in order)",
            )
        )
    return findings


def _validity(
    cert: x509.Certificate,
    faults: Sequence[Fault],
    depth: int,
    opts: CheckOptions,
    where: Where,
    *,
    role: str,
) -> list[Finding]:
    label = f"{role} {describe(cert)}"
    end, start = not_after(cert), not_before(cert)
    found = {f.problem for f in faults if f.depth == depth}
    if Problem.EXPIRED in found:
        return [
            where.finding(
                "cert.expired",
                f"{label} expired on {end:%Y-%m-%d %H:%M} UTC",
                "renew the certificate and reload the services that use it"
                if role != "root"
                else "clients refuse a chain whose root has expired: move to the CA's current root",
            )
        ]
    if Problem.NOT_YET_VALID in found:
        return [
            where.finding(
                "cert.not-yet-valid",
                f"{label} is not valid before {start:%Y-%m-%d %H:%M} UTC (check the clocks of server and clients)",
                "fix the clock that is wrong, or wait; issue certificates with a notBefore in the past",
            )
        ]
    if role == "root":
        return []
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


def _names(leaf: x509.Certificate, faults: Sequence[Fault], where: Where) -> list[Finding]:
    if any(f.problem is Problem.NO_SAN for f in faults):
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
        for name in [f.hostname for f in faults if f.problem is Problem.NAME_MISMATCH and f.hostname]
    ]


# What each judge problem is in SPEC's catalogue, and what to do about it. Problems of the path itself (an issuer
# that is no CA, a constraint broken, an extension clients refuse) mean the chain does not validly lead to a
# trusted root: cert.untrusted, with the client's reason in the message.
_CHECK_OF = {
    Problem.WEAK_KEY: "cert.weak-key",
    Problem.MARGINAL_KEY: "cert.weak-key",
    Problem.WEAK_SIGNATURE: "cert.weak-signature",
}
_FIX_OF = {
    Problem.WEAK_KEY: "issue a new certificate with an RSA 2048+ or ECDSA P-256+ key (a CA's weak key: move to "
    "a CA whose root and intermediates use such keys)",
    Problem.MARGINAL_KEY: "issue a new certificate with an RSA 2048+ or ECDSA P-256+ key",
    Problem.WEAK_SIGNATURE: "reissue it with a SHA-256 signature (and serve the CA's current SHA-256 intermediate)",
    Problem.INVALID_CERT: "reissue the certificate: clients refuse one with a malformed or repeated extension",
    Problem.CRITICAL_EXTENSION: "reissue the certificate without that critical extension (or mark it non-critical)",
    Problem.NOT_A_CA: "serve the CA's real intermediate (basicConstraints CA:TRUE, keyUsage keyCertSign); a private "
    "CA must be made with those extensions",
    Problem.PATH_LENGTH: "serve a chain the CA's pathLenConstraint allows (fewer intermediates), or reissue the CA",
    Problem.BAD_SIGNATURE: "serve the intermediate that really issued the certificate",
    Problem.NAME_CONSTRAINTS: "issue the certificate from a CA whose name constraints allow these names",
    Problem.WRONG_PURPOSE: "use a CA whose certificates may issue TLS server certificates (extendedKeyUsage "
    "serverAuth or none)",
}
_SKIPPED = {Problem.EXPIRED, Problem.NOT_YET_VALID, Problem.NO_SAN, Problem.NAME_MISMATCH, Problem.UNTRUSTED}


def _at_depth(faults: Sequence[Fault], depth: int, where: Where) -> list[Finding]:
    """The judge's findings about the certificate at `depth` that no other function here words."""
    findings: list[Finding] = []
    for fault in faults:
        if fault.depth != depth or fault.problem in _SKIPPED:
            continue
        if fault.problem is Problem.WRONG_PURPOSE and depth == 0:
            findings.append(
                where.finding(
                    "cert.wrong-usage",
                    fault.message,
                    "issue a certificate with extendedKeyUsage serverAuth (and keyUsage digitalSignature)",
                )
            )
            continue
        check = _CHECK_OF.get(fault.problem, "cert.untrusted")
        message = fault.message
        if check == "cert.untrusted":
            message = f"clients refuse the chain: {message} (refused by {fault.rejected_by})"
        findings.append(
            where.finding(
                check,
                message,
                _FIX_OF.get(fault.problem, "serve a chain clients accept"),
                severity=None if fault.rejects else Severity.WARNING,
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
    if status is PathStatus.ANCHOR_NOT_ROOT:
        top = chain[-1]
        return [
            where.finding(
                "cert.untrusted",
                f"the chain reaches a trusted certificate that is not a self-signed root (above {describe(top)}); "
                "OpenSSL clients need the root itself in their trust store",
                "add the CA's self-signed root to the trust store (--ca-bundle / mailcert_ca_bundle), not only "
                "its intermediate",
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
