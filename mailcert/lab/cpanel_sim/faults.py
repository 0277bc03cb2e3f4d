"""Faults of a cPanel host, planted on a lab `cpanel` host the way they happen on real cPanel servers
(the SIMULATOR's files, written as cPanel or an admin by hand would leave them). Registered in
mailcert.lab.faults with the others; planting one on another kind of host is refused."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from mailcert.lab import LabError
from mailcert.lab.cpanel_sim import store
from mailcert.lab.kinds import cpanel
from mailcert.lab.kinds.exim import EXIM_USER
from mailcert.lab.pki import cert_pem, key_pem

if TYPE_CHECKING:
    from mailcert.lab.faults import Fault, FaultSite


def _require_cpanel(site: FaultSite) -> None:
    if site.host.kind != "cpanel":
        raise LabError(
            f"cPanel faults need a cpanel host; {site.host.name} is {site.host.kind}",
            todo="bring the lab up with --kind cpanel",
        )


def hostname_only(site: FaultSite) -> None:
    """The exim and dovecot service certificates cover only the server's hostname, while clients are told
    to use mail.<domain> (beta has no Domain TLS certificate: its clients get the service certificate)."""
    _require_cpanel(site)
    cpanel.install_service_cert(site.host, site.pki.issue([site.host.fqdn]))


def stale_sni(site: FaultSite) -> None:
    """AutoSSL renewed alpha's certificate into Domain TLS, but /etc/dovecot/sni.conf was not rebuilt and
    Dovecot not reloaded (planted on the running host): Exim serves the new one, Dovecot the old one."""
    _require_cpanel(site)
    host = site.host
    names = [*cpanel.domain_tls_names(host, "alpha"), f"www.alpha.{host.domain}"]
    sni = host.path(store.SNI_CONF)
    stamp = sni.stat().st_mtime
    cpanel.install_domain_cert(host, "alpha", site.pki.issue(names))
    # the rebuild that did not happen is what leaves sni.conf older than the Domain TLS folder
    os.utime(sni, (stamp - 2, stamp - 2))


def missing_cabundle(site: FaultSite) -> None:
    """myexim.crt was installed by hand with the leaf only, no CA bundle (reference §9 scenario 30)."""
    _require_cpanel(site)
    host = site.host
    issued = site.pki.issue(cpanel.service_names(host))
    store.install_service(
        host.root, "exim", cert_pem(issued.leaf).decode(), key_pem(issued.key).decode(), "", EXIM_USER
    )


def expired_domain(site: FaultSite) -> None:
    """AutoSSL stopped renewing alpha's certificate: its Domain TLS certificate expired 10 days ago."""
    _require_cpanel(site)
    host = site.host
    names = [*cpanel.domain_tls_names(host, "alpha"), f"www.alpha.{host.domain}"]
    expired = site.pki.issue(names, age_days=100, days=90)
    cpanel.install_domain_cert(host, "alpha", expired)
    store.rebuild_sni_conf(host.root, cpanel.main_cert_domains(host))


def cpanel_faults() -> list[Fault]:
    from mailcert.lab.faults import Fault

    def doc(plant: Callable[[FaultSite], None]) -> str:
        return " ".join((plant.__doc__ or "").split())

    only = ("cpanel",)  # planting one elsewhere is refused before a lab is built (faults.assign_faults)

    return [
        Fault("cpanel-hostname-only", doc(hostname_only),
              "mail.beta.<host>: hostname mismatch on every port (service certificate for the hostname only)",
              hostname_only, kinds=only),
        Fault("cpanel-stale-sni", doc(stale_sni),
              "IMAP/POP3 for mail.alpha.<host>: the previous certificate (Exim already serves the new one)",
              stale_sni, on_running_host=True, kinds=only),
        Fault("cpanel-missing-cabundle", doc(missing_cabundle),
              "25/465/587: chain of 1, untrusted (missing intermediate)", missing_cabundle, kinds=only),
        Fault("cpanel-expired-domain", doc(expired_domain),
              "mail.alpha.<host> on 25/465/587 and alpha.<host> on IMAP/POP3: certificate has expired",
              expired_domain, kinds=only),
    ]  # fmt: skip
