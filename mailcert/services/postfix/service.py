"""Postfix's descriptor (services/registry lists it)."""

from __future__ import annotations

from mailcert.services.descriptor import Service
from mailcert.services.postfix.parser import parse_postfix

SERVICE = Service(
    name="postfix",
    summary="Postfix MTA: main.cf and master.cf",
    markers=("/etc/postfix/main.cf",),
    config_folders=("/etc/postfix/",),
    daemons=("master", "smtpd"),
    protocols=("smtp",),
    parser=parse_postfix,
)
