"""The service-neutral result of parsing a mail service's configuration: listeners and their certificates.

Each service parser (postfix, dovecot, exim, cpanel) turns configuration files into a `ServiceConfig`.
The checks then look only at this model and at `FileFacts`, never at service syntax.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mailcert.model import Finding, Mode


@dataclass(frozen=True)
class Location:
    """Where a setting was made: host path and 1-based line number."""

    file: str
    line: int | None = None


class PemLayout(enum.StrEnum):
    """How the service reads the certificate and key files, which decides what order they must be in."""

    SEPARATE = "separate"  # cert file: leaf first then issuers; key in its own file (or the same file)
    KEY_FIRST = "key-first"  # Postfix smtpd_tls_chain_files / SNI map values: key, leaf, issuers, key, ...
    COMBINED = "combined"  # one file holding key and certificates; the key may stand anywhere


@dataclass(frozen=True)
class CertSource:
    """One certificate (+ key) a listener presents.

    `cert_files` are read in order and concatenated (several only for Postfix chain_files). `key_file` is
    None when the key lives inside the cert file(s). `setting` names the config setting, e.g.
    "smtpd_tls_cert_file" or "ssl_cert", for messages; `location` points at it.
    `ca_file` is a trust store the daemon's TLS library also uses to complete the served chain
    (Postfix smtpd_tls_CAfile, Dovecot ssl_ca): OpenSSL auto-chain fills in missing intermediates from it.
    `passphrase_configured` is True when the service has a way to decrypt an encrypted key.
    """

    cert_files: tuple[str, ...]
    key_file: str | None
    setting: str
    location: Location | None
    layout: PemLayout = PemLayout.SEPARATE
    key_setting: str | None = None
    key_location: Location | None = None
    ca_file: str | None = None
    passphrase_configured: bool = False
    rebuilt_by: str | None = (
        None  # a command that copies these files into a table (postmap -F): rerun on renewal
    )

    @property
    def leaf_file(self) -> str | None:
        """The file that holds the certificate, as configured. Postfix's key-first lists (`privkey.pem,
        fullchain.pem`) name the key first: the certificate is in the next file."""
        if self.layout is PemLayout.KEY_FIRST and len(self.cert_files) > 1:
            return self.cert_files[1]
        return self.cert_files[0] if self.cert_files else None

    @property
    def private_key_file(self) -> str | None:
        """The file that holds the private key, as configured (a key-first list: its first file)."""
        if self.key_file is None and self.layout is PemLayout.KEY_FIRST and self.cert_files:
            return self.cert_files[0]
        return self.key_file


@dataclass(frozen=True)
class SniCert:
    """A certificate chosen by SNI: `names` are the patterns it serves ("mail.example.com", "*.example.net",
    Postfix ".example.net" = any subdomain)."""

    names: tuple[str, ...]
    source: CertSource


@dataclass(frozen=True)
class Listener:
    """One TCP port a service listens on, how it speaks TLS there, and what certificates it presents.

    `name` is the service's own name for it: "smtp", "submission", "submissions", "imap", "imaps",
    "pop3", "pop3s". `tls_enabled` False means TLS is off on that port (no STARTTLS / no implicit TLS).
    `certificates` may hold more than one default source (RSA + ECDSA).
    `min_tls` is the lowest protocol version accepted ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"), None if
    unknown. `plaintext_auth` True when passwords are accepted before TLS on a STARTTLS port.
    """

    service: str
    name: str
    port: int
    mode: Mode
    tls_enabled: bool
    certificates: tuple[CertSource, ...]
    sni: tuple[SniCert, ...] = ()
    location: Location | None = None
    min_tls: str | None = None
    plaintext_auth: bool = False


@dataclass(frozen=True)
class ServiceConfig:
    """A parsed service: its listeners, the names found in its config that clients may use
    (Postfix myhostname, Dovecot local_name patterns, ...), the config files it read, and the config
    findings the parser itself decided (config.syntax, config.overridden, config.dovecot-missing-lt, ...)."""

    service: str
    listeners: tuple[Listener, ...]
    config_names: tuple[str, ...] = ()
    files_read: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    version: str | None = None
