"""Dovecot: which ports the login services listen on, how they speak TLS there, and with which certificates.

`parse_dovecot(files)` reads /etc/dovecot/dovecot.conf (2.3 or 2.4 syntax) through HostFiles and returns
the service-neutral ServiceConfig. The lower layers: dovecot_syntax (text → lines), dovecot_build (lines →
filters and sections), dovecot_filters (lookups as Dovecot does them), dovecot_config (DovecotConfig, the
doveconf-like API), dovecot_lint (findings about the configuration).
"""

from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import replace

from mailcert.facts import HostFiles
from mailcert.model import Finding, Mode
from mailcert.services.dovecot import settings as known
from mailcert.services.dovecot.config import (
    DEFAULT_CONFIG,
    LOGIN_SERVICES,
    DovecotConfig,
    load_dovecot_config,
)
from mailcert.services.dovecot.filters import FilterConflictError, Network, Query, Setting
from mailcert.services.dovecot.lint import config_findings, conflict_finding, finding, looks_like_path
from mailcert.services.model import CertSource, Listener, PemLayout, ServiceConfig, SniCert

__all__ = ["DEFAULT_CONFIG", "DovecotConfig", "dovecot_service", "load_dovecot_config", "parse_dovecot"]

_NAMES = {
    "2.3": ("ssl_cert", "ssl_key", "ssl_alt_cert", "ssl_alt_key", "ssl_ca", "ssl_key_password"),
    "2.4": (
        "ssl_server_cert_file",
        "ssl_server_key_file",
        "ssl_server_alt_cert_file",
        "ssl_server_alt_key_file",
        "ssl_server_ca_file",
        "ssl_server_key_password",
    ),
}
_MIN_TLS = {"SSLv3": "TLSv1", "ANY": "TLSv1", "TLSv1": "TLSv1", "TLSv1.1": "TLSv1.1", "TLSv1.2": "TLSv1.2"}
_MIN_TLS |= {"TLSv1.3": "TLSv1.3", "LATEST": "TLSv1.3"}


def parse_dovecot(
    files: HostFiles, config_file: str = DEFAULT_CONFIG, version: str | None = None
) -> ServiceConfig:
    """The Dovecot service of a host. `version` is the installed Dovecot version when known (audit)."""
    return dovecot_service(load_dovecot_config(files, config_file, version))


def dovecot_service(config: DovecotConfig) -> ServiceConfig:
    findings = config_findings(config)
    listeners: list[Listener] = []
    for service, (protocol, _builtin) in LOGIN_SERVICES.items():
        if protocol not in enabled_protocols(config):
            continue
        for name in config.listeners(service):
            port = int(config.listener_value(f"service/{service}/inet_listener/{name}/port") or "0")
            if port == 0:
                continue
            implicit = config.listener_value(f"service/{service}/inet_listener/{name}/ssl") == "yes"
            listeners.append(_listener(config, service, protocol, name, port, implicit, findings))
    names: dict[str, None] = {}
    for flt in config.filters:
        names |= {n: None for n in flt.names if "*" not in n}
    return ServiceConfig(
        service="dovecot",
        listeners=tuple(listeners),
        config_names=tuple(names),
        files_read=config.files_read,
        findings=tuple(_unique(findings)),
        version=config.version,
    )


def enabled_protocols(config: DovecotConfig) -> list[str]:
    """`protocols`; when it is empty because Debian's protocols.d (under /usr/share) was not available to
    read (a copied /etc only), imap and pop3 are assumed as the dovecot-imapd/-pop3d packages add them."""
    protocols = config.protocols()
    read_protocol_files = any(path.endswith(".protocol") for path in config.files_read)
    if not protocols and not read_protocol_files and config.value("protocols") == "":
        return ["imap", "pop3"]
    return protocols


def _listener(
    config: DovecotConfig,
    service: str,
    protocol: str,
    name: str,
    port: int,
    implicit: bool,
    findings: list[Finding],
) -> Listener:
    key = "listen" if config.version == "2.4" else "address"  # 2.4 renamed it
    address = config.listener_value(f"service/{service}/inet_listener/{name}/{key}") or ""
    local = _single_address(address)
    query = Query(protocol=protocol, local=local)
    try:
        settings = config.effective(query)
    except FilterConflictError as conflict:
        findings.append(conflict_finding(conflict, port))
        settings = dict(config.root.settings)
    defaults = known.defaults(config.version)
    ssl = settings.get("ssl")
    ssl_value = ssl.value if ssl else defaults["ssl"]
    root_ssl = config.root.settings.get("ssl")
    global_off = root_ssl is not None and root_ssl.value == "no"
    tls_enabled = ssl_value != "no" and not (implicit and global_off)
    min_protocol = settings.get("ssl_min_protocol")
    min_value = min_protocol.value if min_protocol else defaults["ssl_min_protocol"]
    plaintext = _cleartext(config, settings)
    mode = Mode.IMPLICIT if implicit else Mode.STARTTLS
    location = config.section_locations.get(
        (f"service {service}", f"inet_listener {name}")
    ) or config.section_locations.get((f"service {service}",))
    where = (
        f"{name} (port {port})" if name.startswith(protocol) else f"{protocol} listener {name} (port {port})"
    )
    if not tls_enabled:
        off = ssl if ssl is not None and ssl.value == "no" else root_ssl
        findings.append(
            finding(
                "config.tls-disabled",
                f"ssl = no: Dovecot does not listen on {where}; clients set to SSL/TLS get 'connection refused'"
                if implicit
                else f"ssl = no: {where} offers no STARTTLS; clients set to STARTTLS cannot connect securely",
                "set `ssl = yes` (or `required`) in the global settings and configure the certificate and key",
                location=off.location if off else location,
                port=port,
            )
        )
    if plaintext is not None and not implicit and ssl_value != "required":
        findings.append(
            finding(
                "config.plaintext-auth",
                f"{plaintext.key} = {plaintext.value}: {where} accepts passwords before STARTTLS",
                "remove the line (disable_plaintext_auth = yes is the default)"
                if plaintext.key == "disable_plaintext_auth"
                else "remove the line (auth_allow_cleartext = no is the default)",
                location=plaintext.location,
                port=port,
            )
        )
    if tls_enabled and min_value in known.LEGACY_MIN_PROTOCOLS and min_protocol is not None:
        findings.append(
            finding(
                "config.legacy-protocols",
                f"ssl_min_protocol = {min_value}: {where} still accepts TLS versions older than 1.2",
                "ssl_min_protocol = TLSv1.2 (the default; every current mail client supports it)",
                location=min_protocol.location,
                port=port,
            )
        )
    return Listener(
        service="dovecot",
        name=name,
        port=port,
        mode=mode,
        tls_enabled=tls_enabled,
        certificates=cert_sources(config, settings),
        sni=_sni(config, query, port, findings),
        location=location,
        min_tls=_MIN_TLS.get(min_value),
        plaintext_auth=plaintext is not None and not implicit and ssl_value != "required",
    )


def _cleartext(config: DovecotConfig, settings: dict[str, Setting]) -> Setting | None:
    """The setting that lets passwords through before TLS, if it does."""
    if config.version == "2.4":
        allow = settings.get("auth_allow_cleartext")
        return allow if allow is not None and allow.value == "yes" else None
    disable = settings.get("disable_plaintext_auth")
    return disable if disable is not None and disable.value == "no" else None


def cert_sources(config: DovecotConfig, settings: dict[str, Setting]) -> tuple[CertSource, ...]:
    """The default certificate and the alternative one (another key type), as configured for a lookup."""
    cert, key, alt_cert, alt_key, ca, password = _NAMES[config.version]
    ca_path = file_path(config, settings.get(ca))
    passphrase = settings.get(password) is not None and bool(settings[password].value)
    out = []
    for cert_key, key_key in ((cert, key), (alt_cert, alt_key)):
        source = _source(config, settings, cert_key, key_key, ca_path, passphrase)
        if source is not None:
            out.append(source)
    return tuple(out)


def _source(
    config: DovecotConfig,
    settings: dict[str, Setting],
    cert_key: str,
    key_key: str,
    ca_path: str | None,
    passphrase: bool,
) -> CertSource | None:
    cert_path = file_path(config, settings.get(cert_key))
    if cert_path is None:
        return None
    key_setting = settings.get(key_key)
    key_path = file_path(config, key_setting)
    return CertSource(
        cert_files=(cert_path,),
        key_file=key_path,
        setting=cert_key,
        location=settings[cert_key].location,
        layout=PemLayout.COMBINED if key_path == cert_path else PemLayout.SEPARATE,
        key_setting=key_key,
        key_location=key_setting.location if key_setting else None,
        ca_file=ca_path,
        passphrase_configured=passphrase,
    )


def file_path(config: DovecotConfig, setting: Setting | None) -> str | None:
    """The file a certificate setting points at. In 2.3 a `<path` (a bare path is reported as a missing
    '<' and still followed so the certificate is checked); in 2.4 the plain path of a *_file setting."""
    if setting is None or setting.heredoc or not setting.value:
        return None
    if setting.file_ref:
        return setting.path
    if config.version == "2.4" or looks_like_path(setting.value):
        value = setting.value.strip()
        if value.startswith("/"):
            return value
        return posixpath.normpath(posixpath.join(posixpath.dirname(setting.location.file), value))
    return None


def _sni(config: DovecotConfig, listener: Query, port: int, findings: list[Finding]) -> tuple[SniCert, ...]:
    """Certificates chosen by local_name, in the order Dovecot tries the blocks (2.3 first match, 2.4 last)."""
    blocks = [f for f in config.filters if f.names and f.matches(replace(listener, local_name=f.names[0]))]
    if config.version == "2.4":
        blocks.reverse()
    names: dict[str, None] = {}
    for block in blocks:
        names |= {n: None for n in block.names if n not in names}
    grouped: list[tuple[list[str], CertSource]] = []
    for name in names:
        try:
            settings = config.effective(replace(listener, local_name=name))
        except FilterConflictError as conflict:
            findings.append(conflict_finding(conflict, port))
            continue
        sources = cert_sources(config, settings)
        if not sources:
            continue
        if grouped and grouped[-1][1] == sources[0]:
            grouped[-1][0].append(name)
        else:
            grouped.append(([name], sources[0]))
    return tuple(SniCert(names=tuple(n), source=s) for n, s in grouped)


def _single_address(address: str) -> Network | None:
    """The address a listener is bound to, when it is exactly one (then `local` blocks apply to it)."""
    try:
        return ipaddress.ip_network(address.strip(), strict=False)
    except ValueError:
        return None


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    out = []
    for item in findings:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
