"""The client matrix's hosts: which kind of lab host each fault is planted on, and the name a mail client of
that host uses on each port (what every stack is asked under, and sends as SNI)."""

from __future__ import annotations

from pathlib import Path

from mailcert.lab.faults import FAULTS
from mailcert.lab.kinds import DEFAULT_KIND
from mailcert.lab.kinds.cpanel import account_domains
from mailcert.lab.layout import LabHost

# The kind of lab host each fault is planted on: the first its Fault.kinds allows (dovecot-file-lt: debian13,
# the cpanel-* faults: the cPanel SIMULATOR's hosts); the others run on the default.
FAULT_KIND = {name: fault.kinds[0] for name, fault in FAULTS.items() if fault.kinds}
# The name a client uses on each port of a postfix-dovecot or debian13 host (the lab's name-mismatch
# certificate covers mail.<domain> only).
PORT_NAME = {25: "smtp", 465: "smtp", 587: "smtp", 143: "imap", 993: "imap", 110: "pop", 995: "pop"}
# On a cPanel host a client uses mail.<its account's domain> on every port (mailcert/lab/kinds/cpanel.py): here
# the account each fault touches. beta has no Domain TLS certificate (its clients get the service certificate);
# alpha has one of its own, chosen by SNI by Exim and Dovecot alike.
CPANEL_ACCOUNT = {
    "cpanel-hostname-only": "beta",
    "cpanel-missing-cabundle": "beta",
    "cpanel-stale-sni": "alpha",
    "cpanel-expired-domain": "alpha",
}


def host_kind(fault: str) -> str:
    return FAULT_KIND.get(fault, DEFAULT_KIND)


def client_name(fault: str, host: LabHost, port: int) -> str:
    """The name a mail client of `host` uses on `port` (and sends as SNI)."""
    if fault in CPANEL_ACCOUNT:
        (domain,) = account_domains(host)[CPANEL_ACCOUNT[fault]]
        return f"mail.{domain}"
    return f"{PORT_NAME[port]}.{host.domain}"


def shown_name(fault: str, port: int) -> str:
    """`client_name` as the docs show it: the host's own domain left out."""
    host = LabHost(name="HOST", kind=host_kind(fault), address="", lab_dir=Path())
    return client_name(fault, host, port).replace(host.domain, "<host domain>")
