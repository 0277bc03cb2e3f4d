"""cPanel checks (reference §4.2 "Linter implications", §9 scenarios 30 and 31): service certificates
cover the hostname and mail.<domain>, Domain TLS certificates cover their names, my*.crt carries its CA
bundle, sni.conf is current with Domain TLS. Expiry, chain and key checks of the same files are the
generic ones (exim's and dovecot's listeners use these files)."""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509

from mailcert.catalogue import Where
from mailcert.model import Finding
from mailcert.pki.certinfo import is_self_signed, san_dns_names, san_ip_addresses
from mailcert.pki.names import covers
from mailcert.services.cpanel.parser import DOMAIN_TLS, SNI_CONF, CpanelHost

INSTALL = (
    "install a certificate covering {names} with `whmapi1 install_service_ssl_certificate service={service} "
    "crt=... key=... cabundle=...` (mailcert fix does it), or let AutoSSL secure the hostname"
)


def _leaf(der: bytes | None) -> x509.Certificate | None:
    if der is None:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def _covered(cert: x509.Certificate, name: str) -> bool:
    return covers(san_dns_names(cert), san_ip_addresses(cert), name)


def cpanel_findings(host: CpanelHost) -> Iterator[Finding]:
    sni_names = {d.name for d in host.domain_tls}
    for svc in host.service_certs:
        certs = svc.file.certificates
        leaf = _leaf(certs[0] if certs else None)
        if leaf is None:
            continue  # missing or unparsable: the generic cert.* checks of exim/dovecot say so
        where = Where("cpanel", None, svc.path)
        # A name with its own Domain TLS certificate is served that one by SNI (Exim and cPanel's sni.conf).
        unserved = [n for n in host.client_names if not _covered(leaf, n) and n not in sni_names]
        if unserved:
            yield where.finding(
                "cpanel.service-cert-names",
                f"the {svc.service} service certificate does not cover {', '.join(unserved)}, which "
                f"{'has' if len(unserved) == 1 else 'have'} no Domain TLS certificate: clients get this one",
                INSTALL.format(
                    names=", ".join(n for n in host.client_names if n not in sni_names), service=svc.service
                ),
                hostname=unserved[0],
            )
        if svc.configured and len(certs) == 1 and not is_self_signed(leaf):
            yield where.finding(
                "cpanel.cabundle-missing",
                f"{svc.path} holds the {svc.service} certificate without its CA bundle (cPanel expects crt + cab)",
                f"reinstall it with its CA bundle: `whmapi1 install_service_ssl_certificate service={svc.service}"
                " crt=... key=... cabundle=...`",
            )
    for entry in host.domain_tls:
        certs = entry.file.certificates
        leaf = _leaf(certs[0] if certs else None)
        if leaf is not None and not entry.name.startswith("*.") and not _covered(leaf, entry.name):
            yield Where("cpanel", None, entry.path).finding(
                "cpanel.domain-cert-names",
                f"the Domain TLS certificate stored for {entry.name} does not cover it",
                "run an AutoSSL check for the domain's user (`whmapi1 start_autossl_check_for_one_user "
                "username=USER`) or install a certificate for it",
                hostname=entry.name,
            )
    yield from _sni_findings(host)


def _sni_findings(host: CpanelHost) -> Iterator[Finding]:
    rebuild = "run `whmapi1 rebuild_mail_sni_config reload_dovecot=1`"
    entries = [d.name for d in host.domain_tls if not d.name.startswith("www.")]
    if not entries:
        return
    where = Where("cpanel", None, SNI_CONF)
    if host.sni_conf_mtime is None:
        yield where.finding(
            "cpanel.sni-stale",
            f"{SNI_CONF} is missing: Dovecot serves the service certificate to every mail.<domain>",
            rebuild,
        )
        return
    absent = [name for name in entries if name not in host.sni_local_names]
    if absent:
        yield where.finding(
            "cpanel.sni-stale",
            f"{SNI_CONF} has no local_name for {', '.join(absent)} (in {DOMAIN_TLS})",
            rebuild,
            hostname=absent[0],
        )
    elif host.domain_tls_mtime is not None and host.sni_conf_mtime < host.domain_tls_mtime:
        yield where.finding(
            "cpanel.sni-stale",
            f"{SNI_CONF} is older than {DOMAIN_TLS} (changed since the last rebuild)",
            rebuild,
        )
