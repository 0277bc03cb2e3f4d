"""The one chain judge: would a mail client accept this chain for this name, and if not, what would it say first?

It follows OpenSSL 3.0's client defaults (`X509_verify_cert` with purpose sslserver, security level 2, no
partial chains, no partial wildcards), in OpenSSL's order: the leaf's key, building the path, the extensions of
every certificate on it (critical extensions, CA flag and keyUsage of issuers, purpose, path length), key and
signature strength, the names, signatures and validity from the anchor down, name constraints. Every problem is
collected (the first is the client's reason). Where mailcert is deliberately stricter than OpenSSL (a leaf
without subjectAltName: Apple clients ignore the CN) the problem says which client refuses.

It never raises on a certificate cryptography could parse.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from mailcert.pki.certinfo import describe, readable, signature_hash_name
from mailcert.pki.chain import PathResult, PathStatus, build_path, looks_self_signed
from mailcert.pki.constraints import violation
from mailcert.pki.extensions import Extensions, extension_name, extensions_of
from mailcert.pki.names import covers
from mailcert.pki.strength import key_strength
from mailcert.pki.trust import TrustStore

OPENSSL = "OpenSSL clients (Postfix, Dovecot, Exim, most Linux mail clients)"
APPLE = "Apple Mail (macOS, iOS): they ignore the CN; OpenSSL would fall back to it"
_SGC = ("2.16.840.1.113730.4.1", "1.3.6.1.4.1.311.10.3.3")  # Netscape / Microsoft server-gated crypto


class Problem(enum.StrEnum):
    WEAK_KEY = "weak-key"
    MARGINAL_KEY = "marginal-key"  # EC 224–255: accepted, a warning
    INVALID_CERT = "invalid-certificate"  # malformed or duplicate extension OpenSSL decodes
    CRITICAL_EXTENSION = "unhandled-critical-extension"
    NOT_A_CA = "invalid-ca"
    WRONG_PURPOSE = "unsuitable-purpose"
    PATH_LENGTH = "path-length-exceeded"
    WEAK_SIGNATURE = "weak-signature"
    NO_SAN = "no-san"
    NAME_MISMATCH = "name-mismatch"
    BAD_SIGNATURE = "signature-failure"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    NAME_CONSTRAINTS = "name-constraints"
    UNTRUSTED = "untrusted"  # the path does not end at a trusted root (see Judgement.path.status)


@dataclass(frozen=True)
class Fault:
    """One reason a client refuses (or, `rejects=False`, only warns about) the chain."""

    problem: Problem
    message: str
    depth: int  # 0 = the leaf
    cert: x509.Certificate
    hostname: str | None = None
    rejects: bool = True
    rejected_by: str = OPENSSL


@dataclass(frozen=True)
class Judgement:
    path: PathResult
    findings: tuple[Fault, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return not any(f.rejects for f in self.findings)

    @property
    def reason(self) -> Fault | None:
        """What a client says first (None when it accepts)."""
        return next((f for f in self.findings if f.rejects), None)

    def for_name(self, hostname: str) -> Judgement:
        """The judgement for one of the names it was made for (other names' mismatches left out)."""
        kept = tuple(f for f in self.findings if f.hostname in (None, hostname))
        return Judgement(self.path, kept)


def judge_chain(
    chain: Sequence[x509.Certificate],
    trust: TrustStore,
    *,
    now: datetime,
    hostnames: Sequence[str] = (),
    fill: Sequence[x509.Certificate] = (),
) -> Judgement:
    """Judge `chain` (leaf first, as served) for every name in `hostnames`."""
    path = path_of(chain, trust, now=now, fill=fill)
    if not readable(chain[0]):
        reason = Fault(Problem.INVALID_CERT, "its names or validity cannot be decoded", 0, chain[0])
        return Judgement(path, (reason,))
    certs = path.path
    findings: list[Fault] = []
    findings += _key(certs[0], 0)
    findings += _trust(path)
    findings += _extensions(path)
    for depth, cert in enumerate(certs[1:], start=1):
        findings += _key(cert, depth)
    findings += _signature_strength(path)
    findings += _names(certs[0], hostnames)
    findings += _signatures_and_validity(path, now)
    findings += _name_constraints(certs)
    return Judgement(path, tuple(findings))


def path_of(
    chain: Sequence[x509.Certificate],
    trust: TrustStore,
    *,
    now: datetime,
    fill: Sequence[x509.Certificate] = (),
) -> PathResult:
    """The path judge_chain judges (`judge_chain(...).path`), without judging it; built once per store."""
    key = (tuple(chain), tuple(fill), now)
    found = trust.built_paths.get(key)
    if found is None:
        if len(trust.built_paths) >= _PATHS_KEPT:
            trust.built_paths.clear()
        found = trust.built_paths[key] = _build(chain, trust, now=now, fill=fill)
    return found


_PATHS_KEPT = 4096


def _build(
    chain: Sequence[x509.Certificate], trust: TrustStore, *, now: datetime, fill: Sequence[x509.Certificate]
) -> PathResult:
    if not readable(chain[0]):
        return PathResult(PathStatus.INCOMPLETE, (chain[0],))
    usable = [chain[0], *[c for c in chain[1:] if readable(c)]]
    return build_path(usable, trust, [c for c in fill if readable(c)], now=now)


def _label(cert: x509.Certificate, depth: int) -> str:
    return f"{'certificate' if depth == 0 else 'issuer'} {describe(cert)}"


def _key(cert: x509.Certificate, depth: int) -> list[Fault]:
    strength = key_strength(cert)
    role = "EE" if depth == 0 else "CA"
    if strength.unusable:
        return [Fault(Problem.WEAK_KEY, f"{_label(cert, depth)}: {strength.unusable}", depth, cert)]
    if strength.refused_at_level_2:
        return [
            Fault(
                Problem.WEAK_KEY,
                f"{_label(cert, depth)} has a {strength.bits}-bit {strength.algorithm} key "
                f"({strength.security_bits}-bit security; OpenSSL at security level 2: {role} certificate key too weak)",
                depth,
                cert,
            )
        ]
    if strength.marginal:
        return [
            Fault(
                Problem.MARGINAL_KEY,
                f"{_label(cert, depth)} has a {strength.bits}-bit {strength.algorithm} key "
                "(accepted at security level 2, below the P-256 that CAs issue)",
                depth,
                cert,
                rejects=False,
            )
        ]
    return []


def _trust(path: PathResult) -> list[Fault]:
    status, certs = path.status, path.path
    if status is PathStatus.TRUSTED:
        return []
    top = certs[-1]
    messages = {
        PathStatus.SELF_SIGNED: "self-signed certificate",
        PathStatus.UNTRUSTED_ROOT: "self-signed certificate in certificate chain",
        PathStatus.INCOMPLETE: "unable to get local issuer certificate",
        PathStatus.ANCHOR_NOT_ROOT: "unable to get issuer certificate: the trusted certificate is not a "
        "self-signed root and clients without partial-chain verification need one",
    }
    return [Fault(Problem.UNTRUSTED, messages[status], len(certs) - 1, top)]


def _extensions(path: PathResult) -> list[Fault]:
    """check_chain_extensions: per certificate from the leaf up."""
    certs = path.path
    anchored = path.status is PathStatus.TRUSTED
    findings: list[Fault] = []
    below = 0  # non-self-issued CA certificates between the leaf and this one
    for depth, cert in enumerate(certs):
        exts = extensions_of(cert)
        label = _label(cert, depth)
        for why in exts.invalid:
            findings.append(Fault(Problem.INVALID_CERT, f"{label}: {why}", depth, cert))
        for oid in exts.critical_unknown:
            findings.append(
                Fault(
                    Problem.CRITICAL_EXTENSION,
                    f"{label} has a critical {extension_name(oid)} extension clients do not implement "
                    "(unhandled critical extension)",
                    depth,
                    cert,
                )
            )
        if depth > 0:
            is_top = depth == len(certs) - 1 and anchored
            ca = _check_ca(cert, exts)
            if ca == 0 or (not is_top and ca != 1):
                findings.append(
                    Fault(Problem.NOT_A_CA, f"{label} is not a CA: {_why_not_ca(exts)}", depth, cert)
                )
            purpose = _ca_purpose(exts)
            if purpose:
                findings.append(Fault(Problem.WRONG_PURPOSE, f"{label}: {purpose}", depth, cert))
            bc = exts.basic_constraints
            if depth > 1 and bc is not None and bc.path_length is not None and below > bc.path_length:
                findings.append(
                    Fault(
                        Problem.PATH_LENGTH,
                        f"{label} allows {bc.path_length} intermediate(s) below it (pathLenConstraint), "
                        f"the path has {below}",
                        depth,
                        cert,
                    )
                )
            if cert.issuer != cert.subject:
                below += 1
        else:
            purpose = _leaf_purpose(exts)
            if purpose:
                findings.append(Fault(Problem.WRONG_PURPOSE, f"{label} {purpose}", depth, cert))
    return findings


def _check_ca(cert: x509.Certificate, exts: Extensions) -> int:
    """X509_check_ca: 1 = a CA by basicConstraints; 3/4 = tolerated for a root (v1 self-signed, keyUsage only);
    0 = not a CA."""
    usage = exts.key_usage
    if usage is not None and not usage.key_cert_sign:
        return 0
    bc = exts.basic_constraints
    if bc is not None:
        return 1 if bc.ca else 0
    if cert.version is x509.Version.v1 and looks_self_signed(cert):
        return 3
    return 4 if usage is not None else 0


def _why_not_ca(exts: Extensions) -> str:
    usage, bc = exts.key_usage, exts.basic_constraints
    if usage is not None and not usage.key_cert_sign:
        return "its keyUsage lacks keyCertSign"
    if bc is None:
        return "it has no basicConstraints extension"
    return "its basicConstraints say CA:FALSE" if not bc.ca else "basicConstraints CA:TRUE is required here"


def _ca_purpose(exts: Extensions) -> str | None:
    eku = exts.extended_key_usage
    if eku is not None and not _serves_tls(eku):
        return "its extendedKeyUsage does not allow serverAuth, so it may not issue TLS server certificates"
    return None


def _leaf_purpose(exts: Extensions) -> str | None:
    eku = exts.extended_key_usage
    if eku is not None and not _serves_tls(eku):
        purposes = ", ".join(oid._name for oid in eku) or "none"
        return f"may not be used by a TLS server: its extendedKeyUsage ({purposes}) lacks serverAuth"
    usage = exts.key_usage
    if usage is not None and not (usage.digital_signature or usage.key_encipherment or usage.key_agreement):
        return "may not be used by a TLS server: its keyUsage allows neither digitalSignature nor keyEncipherment"
    return None


def _serves_tls(eku: x509.ExtendedKeyUsage) -> bool:
    dotted = {oid.dotted_string for oid in eku}
    return ExtendedKeyUsageOID.SERVER_AUTH.dotted_string in dotted or any(s in dotted for s in _SGC)


def _signature_strength(path: PathResult) -> list[Fault]:
    """check_sig_level: SHA-1 and MD5 signatures, on every certificate but the anchor."""
    certs = path.path
    last = len(certs) - 1 if path.status is PathStatus.TRUSTED else len(certs)
    findings = []
    for depth, cert in enumerate(certs[:last]):
        digest = signature_hash_name(cert)
        if digest in ("sha1", "md5", "md2") and not (depth > 0 and looks_self_signed(cert)):
            findings.append(
                Fault(
                    Problem.WEAK_SIGNATURE,
                    f"{'certificate' if depth == 0 else 'intermediate'} {describe(cert)} is signed with "
                    f"{digest.upper()}, which clients reject",
                    depth,
                    cert,
                )
            )
    return findings


def _names(leaf: x509.Certificate, hostnames: Sequence[str]) -> list[Fault]:
    exts = extensions_of(leaf)
    san = exts.subject_alt_name
    if san is None:
        if ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string in exts.present:
            return []  # malformed: an invalid certificate already (INVALID_CERT), not a missing SAN
        return [Fault(Problem.NO_SAN, "no subjectAltName", 0, leaf, rejected_by=APPLE)]
    dns = [n for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return [
        Fault(Problem.NAME_MISMATCH, f"'{name}' is not covered", 0, leaf, hostname=name)
        for name in hostnames
        if not covers(dns, ips, name)
    ]


def _signatures_and_validity(path: PathResult, now: datetime) -> list[Fault]:
    """internal_verify: from the anchor down to the leaf, each signature and each validity period."""
    findings: list[Fault] = []
    for depth in range(len(path.path) - 1, -1, -1):
        cert = path.path[depth]
        if depth in path.bad_signatures:
            findings.append(
                Fault(
                    Problem.BAD_SIGNATURE,
                    f"{_label(cert, depth)}: its signature does not verify with its issuer's key "
                    "(certificate signature failure)",
                    depth,
                    cert,
                )
            )
        if cert.not_valid_before_utc > now:
            findings.append(Fault(Problem.NOT_YET_VALID, "not yet valid", depth, cert))
        elif cert.not_valid_after_utc <= now:
            findings.append(Fault(Problem.EXPIRED, "expired", depth, cert))
    return findings


def _name_constraints(certs: Sequence[x509.Certificate]) -> list[Fault]:
    """check_name_constraints: every certificate against the constraints of every CA above it; self-issued
    intermediates are skipped."""
    findings: list[Fault] = []
    for depth in range(len(certs) - 1, -1, -1):
        cert = certs[depth]
        if depth > 0 and cert.issuer == cert.subject:
            continue
        for above in range(len(certs) - 1, depth, -1):
            constraints = extensions_of(certs[above]).name_constraints
            if constraints is None:
                continue
            why = violation(cert, extensions_of(cert).subject_alt_name, constraints, is_leaf=depth == 0)
            if why:
                findings.append(
                    Fault(
                        Problem.NAME_CONSTRAINTS,
                        f"{_label(cert, depth)}: {why} of {describe(certs[above])}",
                        depth,
                        cert,
                    )
                )
                break
    return findings
