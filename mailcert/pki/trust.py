"""The trust anchors a mail client would use: the system store plus extra bundles (private CAs, the lab)."""

from __future__ import annotations

import ssl
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509

from mailcert.errors import UsageError
from mailcert.pki.certinfo import readable, signed_by, spki_der

if TYPE_CHECKING:
    from mailcert.pki.chain import PathResult

_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/pki/tls/certs/ca-bundle.crt",  # RHEL, Alma
    "/etc/ssl/cert.pem",  # Alpine, BSD
)


def load_bundle(data: bytes) -> list[x509.Certificate]:
    """Certificates of a PEM bundle; the odd legacy entry (negative serial) must not stop the rest."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return list(x509.load_pem_x509_certificates(data))
        except ValueError:
            return []


@dataclass(frozen=True)
class TrustStore:
    roots: tuple[x509.Certificate, ...]
    sources: tuple[str, ...] = ()
    _by_subject: dict[x509.Name, list[x509.Certificate]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # Paths built against this store (mailcert.pki.judge.path_of) by (chain, fill, now): lint judges a chain for
    # its leaf-only check and again for its findings, probe one served chain per name. Kept small.
    built_paths: dict[
        tuple[tuple[x509.Certificate, ...], tuple[x509.Certificate, ...], datetime], PathResult
    ] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for root in self.roots:
            if not readable(root):
                continue  # a root whose subject cannot be decoded anchors nothing
            self._by_subject.setdefault(root.subject, []).append(root)

    @classmethod
    def load(cls, extra_bundles: Sequence[str] = (), system: bool = True) -> TrustStore:
        """System roots (when `system`) plus every certificate of each extra PEM bundle."""
        roots: list[x509.Certificate] = []
        sources: list[str] = []
        if system:
            for path in _system_bundle_paths():
                roots += load_bundle(Path(path).read_bytes())
                sources.append(path)
                break
        for bundle in extra_bundles:
            try:
                data = Path(bundle).read_bytes()
            except OSError as exc:
                raise UsageError(
                    f"cannot read CA bundle {bundle}: {exc.strerror or exc}",
                    todo="check the --ca-bundle path",
                ) from None
            certs = load_bundle(data)
            if not certs:
                raise UsageError(
                    f"CA bundle {bundle} holds no PEM certificate", todo="give a PEM file of CA certificates"
                )
            roots += certs
            sources.append(bundle)
        return cls(roots=tuple(roots), sources=tuple(sources))

    @classmethod
    def of(cls, roots: Iterable[x509.Certificate]) -> TrustStore:
        return cls(roots=tuple(roots))

    def candidates(self, subject: x509.Name) -> list[x509.Certificate]:
        """Trusted certificates named `subject` (possible issuers of a certificate with that issuer name)."""
        return list(self._by_subject.get(subject, []))

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """Trusted roots that signed `cert`."""
        return [root for root in self._by_subject.get(cert.issuer, []) if signed_by(cert, root)]

    def contains(self, cert: x509.Certificate) -> bool:
        """`cert` itself is an anchor (same subject and key), as when a self-signed cert is pinned."""
        key = spki_der(cert)
        return any(spki_der(root) == key for root in self._by_subject.get(cert.subject, []))


class TrustStores:
    """A run's trust stores, each set of bundles loaded once: a fleet's hosts mostly trust the same roots,
    and loading the system store (about 140 roots) cost every host's audit 5 ms. Paths built against a
    store (TrustStore.built_paths) are then shared too: the same intermediates are judged once per run.
    A bundle that cannot be read raises for every host that names it, as TrustStore.load does."""

    def __init__(self, load: Callable[[Sequence[str]], TrustStore] = TrustStore.load) -> None:
        self._load = load
        self._stores: dict[tuple[str, ...], TrustStore] = {}
        self._lock = threading.Lock()  # hosts are audited in threads (--forks)

    def __call__(self, bundles: Sequence[str]) -> TrustStore:
        key = tuple(bundles)
        with self._lock:
            store = self._stores.get(key)
            if store is None:
                store = self._stores[key] = self._load(key)
        return store


def _system_bundle_paths() -> list[str]:
    paths = [p for p in _SYSTEM_BUNDLES if Path(p).is_file()]
    default = ssl.get_default_verify_paths().cafile
    if default and Path(default).is_file() and default not in paths:
        paths.append(default)
    return paths
