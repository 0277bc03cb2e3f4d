"""cPanel & WHM (role `cpanel`, detected by /usr/local/cpanel/version): what cPanel manages for mail TLS.

Exim (/etc/exim.conf) and Dovecot (/etc/dovecot/dovecot.conf + sni.conf) are parsed by their own roles;
this role reads cPanel's side (reference §3.4, §4.1): the service certificates in
/var/cpanel/ssl/{exim,dovecot}/ (the admin-installed my*.crt = crt + cab, else cPanel's default),
the Domain TLS store /var/cpanel/ssl/domain_tls/<name>/combined used for mail SNI, /etc/dovecot/sni.conf,
the accounts' domains (/etc/userdomains) and so the names mail clients are told to use: the server's
hostname and mail.<each domain>. Keys are seen as public keys only (HostFiles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailcert.facts import FileFacts, HostFiles
from mailcert.services.model import ServiceConfig

MARKER = "/usr/local/cpanel/version"
SSL_DIR = "/var/cpanel/ssl"
DOMAIN_TLS = f"{SSL_DIR}/domain_tls"
SNI_CONF = "/etc/dovecot/sni.conf"
USERDOMAINS = "/etc/userdomains"
# service -> (configured file (crt + cab), cPanel's default file): the first that exists is in use.
SERVICE_CERTS = {
    "exim": (f"{SSL_DIR}/exim/myexim.crt", f"{SSL_DIR}/exim/exim.crt"),
    "dovecot": (f"{SSL_DIR}/dovecot/mydovecot.crt", f"{SSL_DIR}/dovecot/dovecot.crt"),
}
_LOCAL_NAME = re.compile(r'^\s*local_name\s+"?([^"{]+?)"?\s*\{', re.M)


@dataclass(frozen=True)
class ServiceCert:
    service: str
    path: str
    configured: bool  # an admin-installed my*.crt (expected: crt + cab)
    file: FileFacts


@dataclass(frozen=True)
class DomainTls:
    name: str
    path: str  # .../combined
    file: FileFacts


@dataclass(frozen=True)
class CpanelHost:
    """cPanel's mail TLS state as read from the host's files."""

    hostname: str | None
    domains: dict[str, str]  # domain -> cPanel user
    service_certs: tuple[ServiceCert, ...]
    domain_tls: tuple[DomainTls, ...]
    domain_tls_mtime: float | None
    sni_conf_mtime: float | None  # None: sni.conf missing or unreadable
    sni_local_names: tuple[str, ...]
    files_read: tuple[str, ...]

    @property
    def mail_names(self) -> list[str]:
        """The names cPanel tells mail clients to use: mail.<domain> for each account domain."""
        return [f"mail.{domain}" for domain in self.domains]

    @property
    def client_names(self) -> list[str]:
        return [*([self.hostname] if self.hostname else []), *self.mail_names]


def _hostname(files: HostFiles) -> str | None:
    text = files.read_config("/etc/hostname").text
    name = text.strip().split()[0] if text and text.strip() else None
    return name.lower().rstrip(".") if name else None


def _domains(files: HostFiles) -> dict[str, str]:
    text = files.read_config(USERDOMAINS).text or ""
    found: dict[str, str] = {}
    for line in text.splitlines():
        domain, _, user = line.partition(":")
        domain, user = domain.strip().lower(), user.strip()
        if domain and user and domain != "*" and not domain.startswith("www."):
            found[domain] = user
    return found


def load_cpanel(files: HostFiles) -> CpanelHost:
    service_certs = []
    for service, (configured, default) in SERVICE_CERTS.items():
        path = configured if files.exists(configured) else default
        service_certs.append(ServiceCert(service, path, path == configured, files.pem_file(path)))
    entries = [
        name
        for name in files.listdir(DOMAIN_TLS)
        if not name.startswith(".") and files.exists(f"{DOMAIN_TLS}/{name}/combined")
    ]
    domain_tls = tuple(DomainTls(n, f"{DOMAIN_TLS}/{n}/combined", files.pem_file(f"{DOMAIN_TLS}/{n}/combined"))
                       for n in entries)  # fmt: skip
    sni = files.read_config(SNI_CONF)
    local_names = tuple(n for m in _LOCAL_NAME.finditer(sni.text or "") for n in m.group(1).split())
    return CpanelHost(
        hostname=_hostname(files),
        domains=_domains(files),
        service_certs=tuple(service_certs),
        domain_tls=domain_tls,
        domain_tls_mtime=files.stat(DOMAIN_TLS).mtime if files.is_dir(DOMAIN_TLS) else None,
        sni_conf_mtime=sni.mtime if sni.text is not None else None,
        sni_local_names=local_names,
        files_read=(USERDOMAINS, SNI_CONF, *(c.path for c in service_certs), *(d.path for d in domain_tls)),
    )


def parse_cpanel(files: HostFiles, *, version: str | None = None) -> ServiceConfig:
    """Role `cpanel`: no listeners of its own (exim and dovecot have them); the names clients use and
    cPanel's findings (service certificates, Domain TLS, sni.conf)."""
    from mailcert.services.cpanel.findings import cpanel_findings

    host = load_cpanel(files)
    return ServiceConfig(
        service="cpanel",
        listeners=(),
        config_names=tuple(host.client_names),
        files_read=host.files_read,
        findings=tuple(cpanel_findings(host)),
    )
