"""cPanel's descriptor (services/registry lists it). Its ports are served by Exim and Dovecot, which are
detected on a cPanel host too; cPanel adds what it manages (service certificates, Domain TLS, sni.conf)."""

from __future__ import annotations

from mailcert.services.cpanel.parser import parse_cpanel
from mailcert.services.descriptor import Service

SERVICE = Service(
    name="cpanel",
    summary="cPanel/WHM: Exim and Dovecot managed by cPanel, certificates installed through its API",
    markers=("/usr/local/cpanel/version",),
    config_folders=("/var/cpanel/ssl/",),
    daemons=("cpsrvd",),
    parser=parse_cpanel,
)
