"""Build the path from a leaf to a trust anchor the way OpenSSL-based mail clients do, and say precisely why
it fails: self-signed leaf, an intermediate missing, or a root nobody trusts.

cryptography's verifier gives the same error for a missing intermediate and an unknown root and rejects
common private-CA layouts that mail clients accept, so path building is done here, as OpenSSL 3.0 does it
(crypto/x509/x509_vfy.c `build_chain`, default flags): trusted issuers first, then the served certificates;
an issuer must match by name and authorityKeyIdentifier; the path ends at a trusted *self-signed* root (no
partial chains: a trusted intermediate alone is not an anchor); among several candidates one valid now wins.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from mailcert.pki.certinfo import is_self_signed, signed_by
from mailcert.pki.extensions import extensions_of
from mailcert.pki.trust import TrustStore

_MAX_DEPTH = 32


class PathStatus(enum.StrEnum):
    TRUSTED = "trusted"
    SELF_SIGNED = "self-signed"  # the leaf signs itself and is not an anchor
    INCOMPLETE = "incomplete"  # an issuer is neither given nor trusted
    UNTRUSTED_ROOT = "untrusted-root"  # the path ends in a self-signed root that is not an anchor
    ANCHOR_NOT_ROOT = "anchor-not-root"  # the path reaches a trusted certificate that is no self-signed root


@dataclass(frozen=True)
class PathResult:
    status: PathStatus
    path: tuple[x509.Certificate, ...]  # leaf first; ends at the anchor when TRUSTED
    missing_issuer: x509.Name | None = None  # the issuer that could not be found (INCOMPLETE)
    filled_from_extra: tuple[x509.Certificate, ...] = ()  # intermediates taken from `fill`, not the chain
    bad_signatures: tuple[
        int, ...
    ] = ()  # depths whose issuer matches by name and key id but did not sign them
    trusted_from: int | None = None  # depth of the first certificate taken from the trust store


def build_path(
    chain: Sequence[x509.Certificate],
    trust: TrustStore,
    fill: Sequence[x509.Certificate] = (),
    *,
    now: datetime | None = None,
) -> PathResult:
    """Path from chain[0] to an anchor using the chain's other certificates, then `fill` (a CAfile the
    server's TLS library completes the chain from, OpenSSL auto-chain)."""
    leaf = chain[0]
    if trust.contains(leaf) and looks_self_signed(leaf):
        return PathResult(PathStatus.TRUSTED, (leaf,), trusted_from=0)
    given = list(chain[1:])
    path = [leaf]
    filled: list[x509.Certificate] = []
    bad: list[int] = []
    trusted_from: int | None = None
    current = leaf
    for _ in range(_MAX_DEPTH):
        anchor, verified = _pick(current, trust.candidates(current.issuer), path, now)
        if anchor is not None:
            if not verified:
                bad.append(len(path) - 1)
            path.append(anchor)
            trusted_from = len(path) - 1 if trusted_from is None else trusted_from
            if looks_self_signed(anchor):
                return PathResult(
                    PathStatus.TRUSTED, tuple(path), None, tuple(filled), tuple(bad), trusted_from
                )
            current = anchor
            continue
        if trusted_from is not None:  # OpenSSL looks no further than the trust store above a trusted cert
            return PathResult(
                PathStatus.ANCHOR_NOT_ROOT,
                tuple(path),
                current.issuer,
                tuple(filled),
                tuple(bad),
                trusted_from,
            )
        if looks_self_signed(current):
            status = PathStatus.SELF_SIGNED if current is leaf else PathStatus.UNTRUSTED_ROOT
            return PathResult(status, tuple(path), None, tuple(filled), tuple(bad))
        issuer, verified = _pick(current, given, path, now)
        if issuer is None:
            issuer, verified = _pick(current, fill, path, now)
            if issuer is not None:
                filled.append(issuer)
        if issuer is None:
            return PathResult(PathStatus.INCOMPLETE, tuple(path), current.issuer, tuple(filled), tuple(bad))
        if not verified:
            bad.append(len(path) - 1)
        path.append(issuer)
        current = issuer
    return PathResult(PathStatus.INCOMPLETE, tuple(path), current.issuer, tuple(filled), tuple(bad))


def looks_self_signed(cert: x509.Certificate) -> bool:
    """OpenSSL's EXFLAG_SS: subject equals issuer and the authorityKeyIdentifier (if any) names the cert itself.
    The signature is not checked, as OpenSSL does not check a root's own signature."""
    return cert.issuer == cert.subject and akid_matches(cert, cert)


def akid_matches(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """X509_check_akid: what `cert`'s authorityKeyIdentifier says of its issuer holds for `issuer`."""
    exts = extensions_of(cert)
    akid = exts.authority_key_identifier
    if akid is None:
        return True
    issuer_ski = extensions_of(issuer).subject_key_identifier
    if akid.key_identifier is not None and issuer_ski is not None and akid.key_identifier != issuer_ski:
        return False
    if akid.authority_cert_serial_number is not None and (
        akid.authority_cert_serial_number != issuer.serial_number
    ):
        return False
    if akid.authority_cert_issuer:
        names = [n.value for n in akid.authority_cert_issuer if isinstance(n, x509.DirectoryName)]
        if names and issuer.issuer not in names:
            return False
    return True


def _pick(
    cert: x509.Certificate,
    candidates: Sequence[x509.Certificate],
    path: Sequence[x509.Certificate],
    now: datetime | None,
) -> tuple[x509.Certificate | None, bool]:
    """The issuer of `cert` among `candidates` (name and key id match), preferring one whose signature verifies
    and then one valid at `now`; the flag says whether its signature verifies."""
    matching = [
        c
        for c in candidates
        if c.subject == cert.issuer and not any(c is p or c == p for p in path) and akid_matches(cert, c)
    ]
    if not matching:
        return None, False
    signed = [c for c in matching if signed_by(cert, c)]
    pool = signed or matching
    if now is not None:
        current = [c for c in pool if c.not_valid_before_utc <= now < c.not_valid_after_utc]
        pool = current or pool
    return pool[0], bool(signed)


def order_problems(chain: Sequence[x509.Certificate]) -> list[str]:
    """Why the served order is not leaf, issuer of leaf, issuer of that, ... (empty when it is)."""
    problems: list[str] = []
    for index in range(1, len(chain)):
        if not signed_by(chain[index - 1], chain[index]):
            if any(signed_by(chain[index - 1], other) for other in chain[index + 1 :]):
                problems.append(
                    f"certificate #{index + 1} is not the issuer of #{index} (its issuer comes later)"
                )
            elif is_self_signed(chain[index - 1]):
                problems.append(f"certificate #{index + 1} follows a self-signed root")
            else:
                problems.append(f"certificate #{index + 1} is not the issuer of #{index}")
    for index, cert in enumerate(chain[1:], start=2):
        if not any(signed_by(other, cert) for other in chain if other is not cert):
            problems.append(f"certificate #{index} issued none of the others (unrelated extra)")
    return sorted(set(problems))
