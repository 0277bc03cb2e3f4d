"""What we know about files on a mail host, whether read locally (lint ROOT) or gathered over SSH (audit).

Private key material never appears here: a key block is reduced to its public key (derived on the host
that holds it) and whether it is encrypted. Certificates are kept as DER.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class BlockKind(enum.StrEnum):
    CERTIFICATE = "certificate"
    PRIVATE_KEY = "private-key"
    OTHER = "other"  # DH parameters, CRLs, trusted certificates, ...


@dataclass(frozen=True)
class PemBlock:
    """One PEM block of a file, in file order.

    For CERTIFICATE: `der` is the certificate. For PRIVATE_KEY: `public_key_der` is the SubjectPublicKeyInfo
    of the key (None when it cannot be derived: encrypted or broken), `encrypted` says whether a passphrase
    protects it, `error` says why it could not be read. `label` is the PEM label (e.g. "RSA PRIVATE KEY").
    """

    kind: BlockKind
    label: str
    der: bytes | None = None
    public_key_der: bytes | None = None
    encrypted: bool = False
    error: str | None = None


@dataclass(frozen=True)
class FileFacts:
    """A file as the service sees it: whether it exists and can be read, ownership, and its PEM blocks.

    `error` is a one-line reason when the file cannot be used (missing, unreadable, too large, loop, outside
    ROOT). `blocks` is empty for a file without PEM data; `pem_error` says why PEM parsing failed.
    """

    path: str
    exists: bool
    error: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    owner: str | None = None
    group: str | None = None
    mtime: float | None = None
    size: int | None = None
    blocks: tuple[PemBlock, ...] = ()
    pem_error: str | None = None
    resolved: str | None = None  # where symlinks led (path as on the host)

    @property
    def certificates(self) -> tuple[bytes, ...]:
        return tuple(b.der for b in self.blocks if b.kind is BlockKind.CERTIFICATE and b.der is not None)

    @property
    def keys(self) -> tuple[PemBlock, ...]:
        return tuple(b for b in self.blocks if b.kind is BlockKind.PRIVATE_KEY)


@dataclass(frozen=True)
class TextFile:
    """A configuration file's text (decoded leniently) or why it could not be read."""

    path: str
    text: str | None
    error: str | None = None
    mtime: float | None = None


class HostFiles(Protocol):
    """Read-only view of one host's filesystem, by absolute host path. Never raises for a bad file."""

    def read_config(self, path: str) -> TextFile:
        """A config file's text; `text` is None with `error` set when it is missing or unreadable."""
        ...

    def pem_file(self, path: str) -> FileFacts:
        """A certificate or key file's facts (keys reduced to public keys)."""
        ...

    def glob(self, pattern: str) -> list[str]:
        """Host paths matching a shell glob, sorted."""
        ...

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def listdir(self, path: str) -> list[str]:
        """Names in a directory, sorted; empty when it is missing."""
        ...

    def stat(self, path: str) -> FileFacts:
        """Existence, mode, owner and mtime without reading content."""
        ...
