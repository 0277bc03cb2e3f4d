"""Build the path from a leaf to a trust anchor the way OpenSSL-based mail clients do, and say precisely why
it fails: self-signed leaf, an intermediate missing, or a root nobody trusts.

cryptography's verifier gives the same error for a missing intermediate and an unknown root and rejects
common private-CA layouts that mail clients accept, so path building is done here, by name and signature.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from mailcert.pki.certinfo import is_self_signed, signed_by
from mailcert.pki.trust import TrustStore

_MAX_DEPTH = 10


class PathStatus(enum.StrEnum):
    TRUSTED = "trusted"
    SELF_SIGNED = "self-signed"  # the leaf signs itself and is not an anchor
    INCOMPLETE = "incomplete"  # an issuer is neither given nor trusted
    UNTRUSTED_ROOT = "untrusted-root"  # the path ends in a self-signed root that is not an anchor


@dataclass(frozen=True)
class PathResult:
    status: PathStatus
    path: tuple[x509.Certificate, ...]  # leaf first; ends at the anchor when TRUSTED
    missing_issuer: x509.Name | None = None  # the issuer that could not be found (INCOMPLETE)
    filled_from_extra: tuple[x509.Certificate, ...] = ()  # intermediates taken from `fill`, not the chain


def build_path(
    chain: Sequence[x509.Certificate], trust: TrustStore, fill: Sequence[x509.Certificate] = ()
) -> PathResult:
    """Path from chain[0] to an anchor using the chain's other certificates, then `fill` (a CAfile the
    server's TLS library completes the chain from, OpenSSL auto-chain)."""
    leaf = chain[0]
    if trust.contains(leaf):
        return PathResult(PathStatus.TRUSTED, (leaf,))
    given = list(chain[1:])
    path = [leaf]
    filled: list[x509.Certificate] = []
    current = leaf
    for _ in range(_MAX_DEPTH):
        anchors = trust.issuers_of(current)
        if anchors:
            return PathResult(PathStatus.TRUSTED, (*path, anchors[0]), filled_from_extra=tuple(filled))
        if is_self_signed(current):
            status = PathStatus.SELF_SIGNED if current is leaf else PathStatus.UNTRUSTED_ROOT
            return PathResult(status, tuple(path), filled_from_extra=tuple(filled))
        issuer = _find_issuer(current, given, path)
        if issuer is None:
            issuer = _find_issuer(current, fill, path)
            if issuer is not None:
                filled.append(issuer)
        if issuer is None:
            return PathResult(PathStatus.INCOMPLETE, tuple(path), current.issuer, tuple(filled))
        if trust.contains(issuer):
            return PathResult(PathStatus.TRUSTED, (*path, issuer), filled_from_extra=tuple(filled))
        path.append(issuer)
        current = issuer
    return PathResult(PathStatus.INCOMPLETE, tuple(path), current.issuer, tuple(filled))


def _find_issuer(
    cert: x509.Certificate, candidates: Sequence[x509.Certificate], path: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject == cert.issuer and candidate not in path and signed_by(cert, candidate):
            return candidate
    return None


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
