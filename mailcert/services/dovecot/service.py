"""Dovecot's descriptor (services/registry lists it)."""

from __future__ import annotations

from mailcert.services.descriptor import Service
from mailcert.services.dovecot.parser import parse_dovecot
from mailcert.services.include_scope import FOLDERS

SERVICE = Service(
    name="dovecot",
    summary="Dovecot IMAP/POP3 server: dovecot.conf and its includes",
    markers=("/etc/dovecot/dovecot.conf",),
    config_folders=("/etc/dovecot/",),
    include_folders=FOLDERS["dovecot"],
    daemons=("dovecot",),
    protocols=("imap", "pop3"),
    parser=parse_dovecot,
)
