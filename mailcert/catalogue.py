"""SPEC's check catalogue: stable IDs, default severities and what each one means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mailcert.model import Finding, Severity


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity
    fires_when: str


_C, _W, _I, _U = Severity.CRITICAL, Severity.WARNING, Severity.INFO, Severity.UNKNOWN

CHECKS: dict[str, Check] = {
    c.id: c
    for c in (
        Check(
            "cert.missing",
            _C,
            "a configured certificate file does not exist or cannot be read, or TLS is on and no certificate "
            "is configured",
        ),
        Check("cert.unparsable", _C, "a configured certificate file holds no valid PEM certificate"),
        Check("cert.expired", _C, "notAfter passed"),
        Check("cert.expiring", _W, "notAfter within warn_days (critical within crit_days)"),
        Check("cert.not-yet-valid", _C, "notBefore in the future (often a clock problem)"),
        Check("cert.name-mismatch", _C, "a hostname clients use is not covered by the SAN"),
        Check("cert.no-san", _C, "leaf has no subjectAltName (Apple ignores CN)"),
        Check("cert.self-signed", _C, "leaf is self-signed"),
        Check("cert.untrusted", _C, "chain does not lead to a trusted root"),
        Check("cert.chain-incomplete", _C, "intermediates needed to reach a trusted root are missing"),
        Check(
            "cert.chain-order", _W, "certificates after the leaf are not each the issuer of the one before"
        ),
        Check(
            "cert.leaf-not-first", _C, "the first certificate in the file is not the leaf matching the key"
        ),
        Check("cert.wrong-usage", _C, "EKU present without serverAuth, or keyUsage forbids the handshake"),
        Check(
            "cert.weak-key",
            _C,
            "a key OpenSSL refuses at security level 2 (RSA/DSA < 2048, EC < 224 bits) in any certificate of the "
            "chain; warning for EC 224-255 bits",
        ),
        Check("cert.weak-signature", _C, "SHA-1 or MD5 signature on leaf or intermediate"),
        Check("key.missing", _C, "configured key file missing or unreadable"),
        Check("key.mismatch", _C, "private key does not belong to the served/configured leaf"),
        Check("key.encrypted", _C, "key is passphrase-protected and the service has no passphrase"),
        Check("key.permissions", _W, "key file readable by group or others"),
        Check(
            "config.cert-not-fullchain", _C, "a leaf-only file is configured where the chain must be served"
        ),
        Check("config.dovecot-missing-lt", _C, "Dovecot 2.3 ssl_cert/ssl_key value without the leading '<'"),
        Check("config.dovecot-ssl-ca-misuse", _W, "intermediates placed in ssl_ca instead of ssl_cert"),
        Check("config.syntax", _C, "a config line that the service would misread"),
        Check(
            "config.overridden", _W, "a TLS setting defined twice, or ignored because another setting wins"
        ),
        Check("config.tls-disabled", _C, "TLS off for a service clients are told to use securely"),
        Check("config.mode-mismatch", _C, "a port speaks the wrong mode (implicit TLS vs STARTTLS)"),
        Check("config.plaintext-auth", _W, "passwords accepted without TLS"),
        Check("config.legacy-protocols", _W, "TLS 1.0/1.1 enabled"),
        Check(
            "config.file-not-in-tree",
            _I,
            "a configuration names a certificate or key file that a config-only tree does not hold",
        ),
        Check(
            "config.template-unrenderable",
            _U,
            "a Jinja2 template in the tree cannot be rendered without Ansible (its filters, tests) or lacks a variable",
        ),
        Check("tls.unreachable", _C, "port closed, filtered or not answering"),
        Check("tls.starttls-unavailable", _C, "STARTTLS not offered, or refused"),
        Check("tls.handshake-failed", _C, "handshake fails"),
        Check("tls.stale", _C, "the served certificate differs from the one configured on disk"),
        Check("tls.inconsistent", _W, "the same hostname gets different certificates on different ports"),
        Check("renewal.not-configured", _W, "an ACME-issued certificate has no working renewal"),
        Check("renewal.no-reload-hook", _C, "certbot renews but nothing reloads the services that use it"),
        Check("renewal.unmanaged-path", _W, "config points into certbot archive/ or at a copy"),
        Check(
            "renewal.overdue", _W, "the certificate has been inside its renewal window for more than 3 days"
        ),
        Check("renewal.lineage-superseded", _W, "a newer lineage (NAME-0001) exists that no service uses"),
        Check("dns.mx-not-covered", _C, "an MX hostname is not covered by the certificate served on port 25"),
        Check("dns.srv-mismatch", _C, "an RFC 6186 SRV target/port is not covered or speaks the other mode"),
        Check("dns.tlsa-mismatch", _C, "a DANE TLSA record matches neither the served key nor its chain"),
        Check("dns.mta-sts-mismatch", _C, "MTA-STS policy mx: patterns do not cover the MX hosts"),
        Check(
            "cpanel.service-cert-names",
            _C,
            "a cPanel service certificate (exim, dovecot) does not cover the server hostname or a mail.<domain>"
            " name that has no Domain TLS certificate",
        ),
        Check(
            "cpanel.domain-cert-names",
            _C,
            "a Domain TLS certificate does not cover the name it is stored for",
        ),
        Check(
            "cpanel.cabundle-missing", _C, "a cPanel service certificate file (my*.crt) lacks its CA bundle"
        ),
        Check(
            "cpanel.sni-stale",
            _W,
            "/etc/dovecot/sni.conf is older than /var/cpanel/ssl/domain_tls or lacks a local_name for an entry",
        ),
        Check("host.clock-skew", _W, "the host clock differs from the control machine by more than 60 s"),
        Check(
            "host.fix-unfinished",
            _C,
            "a `mailcert fix` run's host-side worker died before it recorded how the switch ended",
        ),
        Check("host.unreachable", _U, "SSH connection, authentication, host key or sudo failed"),
    )
}


def default_severity(check_id: str) -> Severity:
    """The catalogue severity of a check; an unknown ID is a programming error."""
    return CHECKS[check_id].severity


class _Located(Protocol):
    @property
    def file(self) -> str: ...

    @property
    def line(self) -> int | None: ...


@dataclass(frozen=True)
class Where:
    """Where a chain is used, copied onto every finding about it."""

    service: str | None = None
    port: int | None = None
    file: str | None = None
    line: int | None = None

    @classmethod
    def at(cls, service: str | None, location: _Located | None, port: int | None = None) -> Where:
        """Where for a config setting: its file and line (a services.model.Location), if known."""
        return cls(service, port, location.file if location else None, location.line if location else None)

    def finding(
        self,
        check: str,
        message: str,
        fix: str,
        *,
        hostname: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            check=check,
            severity=severity or default_severity(check),
            message=message,
            fix=fix,
            service=self.service,
            port=self.port,
            hostname=hostname,
            file=self.file,
            line=self.line,
        )
