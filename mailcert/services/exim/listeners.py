"""Exim's SMTP listeners and certificates from its main options, and the findings they decide.

Ports: daemon_smtp_ports (default `smtp`), or Debian's `-oX PORTS` from SMTPLISTENEROPTIONS, plus any
`address.port` in local_interfaces (or an `-oX` interface list). Ports in tls_on_connect_ports (all ports with
-tls-on-connect) speak implicit TLS; the others offer STARTTLS to tls_advertise_hosts (default `*`).
Certificates: tls_certificate / tls_privatekey, colon lists paired by position (RSA + ECDSA); without
tls_privatekey the key is in the certificate file; without tls_certificate Exim ≥4.88 makes a self-signed one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailcert.catalogue import Where
from mailcert.facts import HostFiles
from mailcert.model import Finding, Mode
from mailcert.ports import STANDARD_PORTS, names_speaking, ports_speaking
from mailcert.services.exim.expand import CannotEvaluateError, expand, mentions_sni
from mailcert.services.exim.lists import exim_list, interface_port
from mailcert.services.exim.sni import sni_certificates, sni_without_default
from mailcert.services.model import CertSource, Listener, Location, PemLayout, SniCert

if TYPE_CHECKING:
    from mailcert.services.exim.parser import EximConfig

_WELL_KNOWN = names_speaking("smtp") | {"urd": 465}  # urd: what some /etc/services call 465
_PORT_NAMES = {port: STANDARD_PORTS[port].service for port in ports_speaking("smtp")}
_DEBIAN_465 = "SMTPLISTENEROPTIONS='-oX 465:25 -oP /run/exim4/exim.pid' in /etc/default/exim4"


def listeners_and_findings(
    config: EximConfig, files: HostFiles
) -> tuple[tuple[Listener, ...], list[Finding], list[str]]:
    """The SMTP listeners of an Exim config, the findings about ports, modes and certificates, and notes on
    expansions that could not be evaluated."""
    findings: list[Finding] = []
    services = _services(files)
    cli = config.listener_options
    ports_text = cli.ports if cli.ports is not None else config.option("daemon_smtp_ports") or ""
    ports_where = cli.location if cli.ports is not None else _where(config, "daemon_smtp_ports")
    interfaces = cli.interfaces if cli.interfaces is not None else config.option("local_interfaces") or ""

    listening: dict[int, str] = {}
    interface_ports = [interface_port(item)[1] for item in exim_list(interfaces)]
    for port in interface_ports:
        if port is not None:
            listening.setdefault(port, str(port))
    if not interface_ports or None in interface_ports:
        for item in exim_list(ports_text):
            port = _port(item, services)
            if port is None:
                findings.append(
                    _finding("config.syntax", f'daemon_smtp_ports: "{item}" is not a port', ports_where)
                )
            else:
                listening.setdefault(port, item)

    implicit: dict[int, str] = {}
    tls_where = _where(config, "tls_on_connect_ports")
    for item in exim_list(config.option("tls_on_connect_ports") or ""):
        port = _port(item, services)
        if port is None:
            findings.append(
                _finding("config.syntax", f'tls_on_connect_ports: "{item}" is not a port', tls_where)
            )
        else:
            implicit[port] = item

    advertised = exim_list(config.option("tls_advertise_hosts") or "") not in ([], ["!*"])
    certificates, sni, cert_findings, notes = _certificates(config, files)
    findings.extend(cert_findings)

    listeners = []
    for port, written in sorted(listening.items()):
        is_implicit = cli.tls_on_connect or port in implicit
        listeners.append(
            Listener(
                service="exim",
                name=_PORT_NAMES.get(port, written),
                port=port,
                mode=Mode.IMPLICIT if is_implicit else Mode.STARTTLS,
                tls_enabled=is_implicit or advertised,
                certificates=certificates,
                sni=sni,
                location=ports_where,
            )
        )
    findings.extend(_mode_findings(listeners, implicit, ports_where, tls_where))
    advertise_where = _where(config, "tls_advertise_hosts")
    for listener in listeners:
        if not listener.tls_enabled:
            findings.append(
                _finding(
                    "config.tls-disabled",
                    f"tls_advertise_hosts is empty: Exim offers no STARTTLS on port {listener.port}",
                    advertise_where,
                    port=listener.port,
                    fix="set tls_advertise_hosts = * (Debian: MAIN_TLS_ENABLE = yes in the local macros)",
                )
            )
    if any(listener.tls_enabled for listener in listeners) and not config.option("tls_certificate"):
        findings.append(
            _finding(
                "cert.self-signed",
                "tls_certificate is unset: Exim ≥4.88 uses a self-signed certificate when tls_certificate is unset",
                _where(config, "tls_certificate"),
                fix="set tls_certificate (and tls_privatekey) to the full chain and key; Debian: MAIN_TLS_ENABLE, "
                "MAIN_TLS_CERTIFICATE and MAIN_TLS_PRIVATEKEY in /etc/exim4/conf.d/main/000_localmacros (split) or "
                "/etc/exim4/exim4.conf.localmacros",
            )
        )
    return tuple(listeners), findings, notes


def _mode_findings(
    listeners: list[Listener],
    implicit: dict[int, str],
    ports_where: Location | None,
    tls_where: Location | None,
) -> list[Finding]:
    findings = []
    ports = {listener.port for listener in listeners}
    for port in implicit:
        if port not in ports:
            findings.append(
                _finding(
                    "config.mode-mismatch",
                    f"tls_on_connect_ports lists {port} but the daemon does not listen on it: {port} not listening",
                    tls_where,
                    port=port,
                    fix=f"add {port} to daemon_smtp_ports (Debian: {_DEBIAN_465})",
                )
            )
    for listener in listeners:
        if listener.port == 465 and listener.mode is Mode.STARTTLS:
            findings.append(
                _finding(
                    "config.mode-mismatch",
                    "port 465 is listening without tls_on_connect: it speaks plain SMTP where clients expect "
                    "implicit TLS",
                    ports_where,
                    port=465,
                    fix="set tls_on_connect_ports = 465",
                )
            )
        if listener.port in (25, 587) and listener.mode is Mode.IMPLICIT:
            findings.append(
                _finding(
                    "config.mode-mismatch",
                    f"port {listener.port} speaks implicit TLS (tls_on_connect) where clients use STARTTLS",
                    tls_where,
                    port=listener.port,
                    fix=f"remove {listener.port} from tls_on_connect_ports (or -tls-on-connect)",
                )
            )
    return findings


def _certificates(
    config: EximConfig, files: HostFiles
) -> tuple[tuple[CertSource, ...], tuple[SniCert, ...], list[Finding], list[str]]:
    """Default certificates (no SNI), SNI certificates, findings, and what could not be evaluated."""
    cert_text = config.option("tls_certificate") or ""
    if not cert_text.strip():
        return (), (), [], []
    cert_where = _where(config, "tls_certificate")
    key_text = config.option("tls_privatekey") or ""
    key_where = _where(config, "tls_privatekey")
    variables = {"tls_in_sni": "", "tls_sni": ""}
    hostname = config.option("primary_hostname")
    if hostname is not None:
        variables["primary_hostname"] = hostname
    try:
        certs = exim_list(expand(cert_text, variables, files.exists))
        keys = exim_list(expand(key_text, variables, files.exists))
    except CannotEvaluateError as exc:
        return (), (), [], [f"tls_certificate/tls_privatekey not evaluated: {exc}"]
    if mentions_sni(cert_text) and sni_without_default(cert_text, variables, files):
        shown = ":".join(certs)
        message = (
            f"tls_certificate uses $tls_in_sni without a default: the expansion yields '{shown}' when the client "
            "sends no SNI (Outlook 2013, most MTAs), so those clients get no certificate"
        )
        fix = (
            "wrap it as ${if def:tls_in_sni {...}{/path/to/default.pem}}, and refuse '/' in the SNI: "
            "${if and{{def:tls_in_sni}{!match{$tls_in_sni}{/}}} {...}{default}}"
        )
        sni = sni_certificates(cert_text, key_text, variables, files, (cert_where, key_where))
        return (), sni, [_finding("config.syntax", message, cert_where, fix=fix)], []
    sources = []
    for index, cert in enumerate(certs):
        key = keys[index] if index < len(keys) else None
        sources.append(
            CertSource(
                cert_files=(cert,),
                key_file=key,
                setting="tls_certificate",
                location=cert_where,
                layout=PemLayout.SEPARATE if key else PemLayout.COMBINED,
                key_setting="tls_privatekey" if key else None,
                key_location=key_where if key else None,
            )
        )
    sni = ()
    if mentions_sni(cert_text):
        sni = sni_certificates(cert_text, key_text, variables, files, (cert_where, key_where))
    return tuple(sources), sni, [], []


def _services(files: HostFiles) -> dict[str, int]:
    """Service names → TCP ports from the host's /etc/services, over a built-in table of the mail ones."""
    table = dict(_WELL_KNOWN)
    text = files.read_config("/etc/services").text or ""
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[1].endswith("/tcp") and words[1][:-4].isdigit():
            for name in (words[0], *words[2:]):
                table.setdefault(name, int(words[1][:-4]))
    return table


def _port(item: str, services: dict[str, int]) -> int | None:
    if item.isdigit():
        return int(item) if 0 < int(item) < 65536 else None
    return services.get(item)


def _where(config: EximConfig, option: str) -> Location | None:
    setting = config.setting(option)
    return setting.location if setting else None


def _finding(
    check: str,
    message: str,
    where: Location | None,
    *,
    port: int | None = None,
    fix: str = "correct the setting",
) -> Finding:
    return Where.at("exim", where, port).finding(check, message, fix)
