"""Postfix: read main.cf and master.cf through HostFiles and say what each smtpd port serves.

`parse_postfix(files)` is the service parser the lint pipeline calls. The pieces behind it:
postfix_syntax (lexing as Postfix does), postfix_expand ($ expansion), postfix_config (effective values per
master.cf service, like postconf), postfix_listeners (ports, modes, certificates), postfix_sni (SNI maps),
postfix_ports and postfix_lint (the findings).
"""

from __future__ import annotations

from dataclasses import replace

from mailcert.facts import HostFiles
from mailcert.model import Finding
from mailcert.services.model import Listener, Location, ServiceConfig
from mailcert.services.postfix.config import DEFAULT_CONFIG_DIR, PostfixConfig, unique
from mailcert.services.postfix.lint import file_findings
from mailcert.services.postfix.listeners import (
    finding,
    resolve_port,
    services_db,
    smtpd_listener,
    split_service_name,
)
from mailcert.services.postfix.ports import port_findings
from mailcert.services.postfix.sni import SniResult, read_sni_maps

__all__ = ["PostfixConfig", "parse_postfix", "service_config"]

_NOT_CLIENT_NAMES = ("localhost", ".localdomain", ".local", ".localhost")


def parse_postfix(
    files: HostFiles, config_dir: str = DEFAULT_CONFIG_DIR, *, version: str | None = None
) -> ServiceConfig:
    """Postfix's listeners, names and config findings from a host's files (MailcertError if main.cf is
    unreadable); `version`: the installed mail_version, which picks the built-in defaults."""
    return service_config(PostfixConfig.load(files, config_dir, version=version), files)


def service_config(config: PostfixConfig, files: HostFiles) -> ServiceConfig:
    """The ServiceConfig of an already parsed configuration; `files` supplies /etc/services, SNI tables, mtimes."""
    findings: list[Finding] = file_findings(config)
    ports = services_db(files)
    listeners: list[Listener] = []
    sni_tables: dict[tuple[str, str | None], SniResult] = {}
    for entry in config.services():
        if entry.type != "inet" or entry.program not in ("smtpd", "postscreen"):
            continue
        _host, port_text = split_service_name(entry.service)
        port = resolve_port(port_text, ports)
        if port is None:
            findings.append(
                finding(
                    "config.syntax",
                    f"master.cf service {entry.service!r} names port {port_text!r}, which is neither a number nor "
                    f"a TCP service in /etc/services; the master daemon stops with 'unknown service'",
                    "use a port number or a name from /etc/services (submission, submissions, ...)",
                    Location(config.master_path, entry.line),
                )
            )
            continue
        tls_key = _tls_service(config, entry.key, entry.program)
        listener, tls, problems = smtpd_listener(config, entry, tls_key, port)
        findings += problems
        findings += port_findings(config, entry, listener, tls, tls_key)
        maps = config.try_value("tls_server_sni_maps", tls_key)[0].strip()
        if maps and listener.tls_enabled:
            ca_file = listener.certificates[0].ca_file if listener.certificates else None
            cache_key = (maps, ca_file)
            if cache_key not in sni_tables:
                sni_tables[cache_key] = read_sni_maps(
                    files,
                    maps,
                    setting_location=config.setting("tls_server_sni_maps", tls_key).location,
                    ca_file=ca_file,
                )
                findings += sni_tables[cache_key].findings
            listener = replace(listener, sni=tuple(sni_tables[cache_key].certificates))
        listeners.append(listener)
    files_read = [config.main_path] + ([config.master_path] if config.master_cf is not None else [])
    files_read += [path for result in sni_tables.values() for path in result.files_read]
    return ServiceConfig(
        service="postfix",
        listeners=tuple(listeners),
        config_names=tuple(_config_names(config, listeners)),
        files_read=tuple(unique(files_read)),
        findings=tuple(_dedupe(findings)),
    )


def _tls_service(config: PostfixConfig, key: str, program: str) -> str:
    """The entry whose -o options decide TLS: postscreen hands connections to the `smtpd` pass service."""
    if program != "postscreen":
        return key
    pass_key = f"{config.try_value('smtpd_service_name')[0].strip() or 'smtpd'}/pass"
    return pass_key if config.service(pass_key) is not None else key


def _config_names(config: PostfixConfig, listeners: list[Listener]) -> list[str]:
    names: list[str] = []
    hostname = config.try_value("myhostname")[0].strip().lower().rstrip(".")
    if "." in hostname and not hostname.endswith(_NOT_CLIENT_NAMES) and "$" not in hostname:
        names.append(hostname)
    for listener in listeners:
        for sni in listener.sni:
            names += [name.lstrip(".") for name in sni.names]
    return unique(n for n in names if n)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    kept: list[Finding] = []
    for item in findings:
        if item not in seen:
            seen.add(item)
            kept.append(item)
    return kept
