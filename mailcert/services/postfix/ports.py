"""Findings about what one Postfix port does: wrong mode, no TLS, old protocols, passwords before TLS."""

from __future__ import annotations

from mailcert.model import Finding, Mode, Severity
from mailcert.services.model import Listener, Location
from mailcert.services.postfix.config import PostfixConfig
from mailcert.services.postfix.listeners import SUBMISSION_NAMES, SmtpdTls, finding, split_service_name
from mailcert.services.postfix.params import suggest
from mailcert.services.postfix.syntax import MasterEntry

_LEGACY_CERTS = ("smtpd_tls_cert_file", "smtpd_tls_eccert_file", "smtpd_tls_dcert_file")


def port_findings(
    config: PostfixConfig, entry: MasterEntry, listener: Listener, tls: SmtpdTls, tls_key: str
) -> list[Finding]:
    """Everything wrong with how this port speaks TLS, located at the setting that decides it."""
    findings: list[Finding] = []
    where = _Where(config, tls_key, entry)
    findings += _mode(listener, tls, where)
    findings += _disabled(listener, tls, where)
    if tls.use_tls:
        findings += _protocols(listener, tls, where)
        findings += _chain_files_win(listener, config, tls_key)
    findings += _plaintext_auth(listener, tls, where)
    return findings


class _Where:
    def __init__(self, config: PostfixConfig, key: str, entry: MasterEntry) -> None:
        self.config, self.key, self.entry = config, key, entry
        self.entry_location = Location(config.master_path, entry.line)

    def setting(self, name: str) -> Location:
        return self.config.setting(name, self.key).location or self.entry_location

    def explicit(self, name: str) -> bool:
        return self.config.setting(name, self.key).origin in ("override", "main.cf")

    def label(self) -> str:
        return f"{self.entry.service}/{self.entry.type} (master.cf line {self.entry.line})"


def _is_submission(listener: Listener) -> bool:
    return listener.port in (465, 587) or listener.name in SUBMISSION_NAMES


def _is_public(listener: Listener, entry: MasterEntry) -> bool:
    """A standard mail port that is not bound to loopback only (content-filter ports are left alone)."""
    host = split_service_name(entry.service)[0]
    loopback = host is not None and (host.startswith("127.") or host in ("::1", "localhost"))
    return not loopback and (listener.port == 25 or _is_submission(listener))


def _mode(listener: Listener, tls: SmtpdTls, where: _Where) -> list[Finding]:
    port = listener.port
    if port == 465 and not tls.wrappermode:
        typo = _wrappermode_typo(where.entry)
        cause = (
            f"; master.cf line {typo[0]} sets {typo[1]}, which Postfix does not know (typo of "
            f"smtpd_tls_wrappermode)"
            if typo
            else ""
        )
        return [
            finding(
                "config.mode-mismatch",
                f"port 465 ({where.label()}) speaks plaintext SMTP/STARTTLS, but clients expect implicit TLS "
                f"there: smtpd_tls_wrappermode is not yes{cause}; clients set to SSL/TLS get "
                f"'wrong version number' or a connection error",
                f"add `-o smtpd_tls_wrappermode=yes` to the {where.entry.service} entry in master.cf",
                Location(where.config.master_path, typo[0])
                if typo
                else where.setting("smtpd_tls_wrappermode"),
                port=port,
            )
        ]
    if port in (25, 587) and tls.wrappermode:
        return [
            finding(
                "config.mode-mismatch",
                f"port {port} ({where.label()}) runs in wrapper mode (implicit TLS), but clients and other "
                f"servers speak plain SMTP + STARTTLS on port {port}; they time out or fail the handshake",
                "remove smtpd_tls_wrappermode=yes for this service (check that an indented `-o` line in "
                "master.cf does not belong to a commented-out submissions entry)",
                where.setting("smtpd_tls_wrappermode"),
                port=port,
            )
        ]
    return []


def _wrappermode_typo(entry: MasterEntry) -> tuple[int, str] | None:
    for override in entry.overrides:
        if override.name != "smtpd_tls_wrappermode" and suggest(override.name) == "smtpd_tls_wrappermode":
            return override.line, override.name
    return None


def _disabled(listener: Listener, tls: SmtpdTls, where: _Where) -> list[Finding]:
    port = listener.port
    if not _is_public(listener, where.entry):
        return []
    if not tls.use_tls:
        if tls.level not in ("", "none"):
            return []  # a level Postfix rejects: reported as config.syntax
        explicit_none = tls.level == "none" and where.explicit("smtpd_tls_security_level")
        if not (_is_submission(listener) or explicit_none):
            return []
        why = (
            "smtpd_tls_security_level = none"
            if explicit_none
            else "smtpd_tls_security_level is empty and smtpd_use_tls/smtpd_enforce_tls are no"
        )
        level = "encrypt" if _is_submission(listener) else "may"
        return [
            finding(
                "config.tls-disabled",
                f"port {port} ({where.label()}) offers no TLS: {why}; passwords and mail cross the network "
                f"in clear and clients set to STARTTLS or SSL/TLS fail",
                f"set smtpd_tls_security_level={level} for this service (master.cf: "
                f"`-o smtpd_tls_security_level={level}`) with a certificate configured",
                where.setting("smtpd_tls_security_level"),
                port=port,
            )
        ]
    if not listener.certificates:
        return [
            finding(
                "config.tls-disabled",
                f"port {port} ({where.label()}) has TLS switched on but no certificate: smtpd_tls_chain_files "
                f"and smtpd_tls_cert_file are empty, so Postfix logs 'No server certs available. TLS won't be "
                f"enabled'",
                "set smtpd_tls_chain_files = /etc/letsencrypt/live/NAME/privkey.pem, "
                "/etc/letsencrypt/live/NAME/fullchain.pem in main.cf",
                where.setting("smtpd_tls_cert_file"),
                port=port,
            )
        ]
    return []


def _protocols(listener: Listener, tls: SmtpdTls, where: _Where) -> list[Finding]:
    name = tls.protocols_setting
    value = where.config.try_value(name, where.key)[0]
    location = where.setting(name)
    if tls.allowed is None:
        return [
            finding(
                "config.syntax",
                f"{name} = {value!r} is not a protocol list Postfix accepts ('Invalid TLS protocol list'): the "
                f"TLS handshake on port {listener.port} fails",
                f"set {name} = >=TLSv1.2",
                location,
                port=listener.port,
            )
        ]
    allowed = [p for p in tls.allowed if p.startswith("TLS")]
    if not allowed:
        return [
            finding(
                "config.tls-disabled",
                f"{name} = {value!r} leaves no TLS version enabled: every handshake on port {listener.port} fails",
                f"set {name} = >=TLSv1.2",
                location,
                port=listener.port,
            )
        ]
    legacy = [p for p in allowed if p in ("TLSv1", "TLSv1.1")]
    if not legacy or not where.explicit(name):
        # Postfix's own default (>=TLSv1) is left alone: OpenSSL 3 refuses TLS 1.0/1.1 at its default
        # security level anyway; an explicit setting is a decision worth reviewing.
        return []
    modern = [p for p in allowed if p not in legacy]
    severity = Severity.WARNING if modern else Severity.CRITICAL
    tail = (
        f"; {', '.join(modern)} also allowed"
        if modern
        else "; nothing newer is allowed, so current clients cannot connect"
    )
    return [
        finding(
            "config.legacy-protocols",
            f"{name} = {value!r} allows {', '.join(legacy)} on port {listener.port}{tail}",
            f"set {name} = >=TLSv1.2",
            location,
            port=listener.port,
            severity=severity,
        )
    ]


def _chain_files_win(listener: Listener, config: PostfixConfig, key: str) -> list[Finding]:
    if not config.try_value("smtpd_tls_chain_files", key)[0].strip():
        return []
    findings: list[Finding] = []
    for name in _LEGACY_CERTS:
        value = config.try_value(name, key)[0].strip()
        setting = config.setting(name, key)
        if value and setting.location is not None:
            findings.append(
                finding(
                    "config.overridden",
                    f"{name} = {value} is ignored on port {listener.port}: smtpd_tls_chain_files is set, and "
                    f"Postfix then ignores the legacy certificate parameters (editing {value} changes nothing)",
                    f"remove {name} (and its key file parameter) and keep the certificate in "
                    f"smtpd_tls_chain_files",
                    setting.location,
                    port=listener.port,
                )
            )
    return findings


def _plaintext_auth(listener: Listener, tls: SmtpdTls, where: _Where) -> list[Finding]:
    if (
        not listener.plaintext_auth
        or listener.mode is not Mode.STARTTLS
        or not _is_public(listener, where.entry)
    ):
        return []
    before = "before STARTTLS" if tls.use_tls else "and TLS is off"
    return [
        finding(
            "config.plaintext-auth",
            f"port {listener.port} ({where.label()}) offers AUTH {before}: smtpd_sasl_auth_enable = yes "
            f"without smtpd_tls_auth_only = yes, so clients may send passwords in clear",
            "set smtpd_tls_auth_only = yes (main.cf, or `-o smtpd_tls_auth_only=yes` on this service)",
            where.setting("smtpd_sasl_auth_enable"),
            port=listener.port,
        )
    ]
