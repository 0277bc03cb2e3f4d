"""Exim's descriptor (services/registry lists it)."""

from __future__ import annotations

from mailcert.services.descriptor import Service
from mailcert.services.exim.parser import parse_exim
from mailcert.services.include_scope import FOLDERS

SERVICE = Service(
    name="exim",
    summary="Exim MTA: its runtime configuration (cPanel, RHEL/EPEL), or Debian's split exim4 configuration",
    markers=(
        "/etc/exim4/exim4.conf",
        "/etc/exim4/exim4.conf.template",
        "/etc/exim4/conf.d",
        "/etc/exim.conf",
        "/etc/exim/exim.conf",
    ),
    config_folders=("/etc/exim",),  # /etc/exim4/ (Debian), /etc/exim/ (RHEL/EPEL), /etc/exim.conf (cPanel)
    include_folders=FOLDERS["exim"],
    daemons=("exim4", "exim"),
    protocols=("smtp",),
    parser=parse_exim,
)
