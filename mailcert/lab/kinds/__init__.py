"""The kinds of lab host. `postfix-dovecot` is the default; `exim-dovecot` is there when a real Exim is
installed under /opt/mailcert/exim (scripts/install-exim). A `cpanel` kind is one more HostKind here:
its services (cPanel's Exim and Dovecot layout under /etc/exim.conf, /var/cpanel/ssl, ...) in a module
of their own beside postfix.py, dovecot.py and exim.py. `debian13` runs the same Postfix and Dovecot services
from the Debian 13 root that scripts/install-debian13 builds (Postfix 3.10, Dovecot 2.4, OpenSSL 3.5)."""

from __future__ import annotations

from mailcert.lab import LabError
from mailcert.lab.kinds.base import HostKind, MailService
from mailcert.lab.kinds.cpanel import CPANEL_DOVECOT, CPANEL_EXIM
from mailcert.lab.kinds.dovecot import DOVECOT
from mailcert.lab.kinds.exim import EXIM
from mailcert.lab.kinds.exim import installed as exim_installed
from mailcert.lab.kinds.postfix import POSTFIX
from mailcert.lab.systemroot import DEBIAN13 as DEBIAN13_NAME
from mailcert.lab.systemroot import debian13_installed, debian13_root

POSTFIX_DOVECOT = HostKind(
    name="postfix-dovecot",
    services=(POSTFIX, DOVECOT),
    binaries=("postfix", "postconf", "dovecot", "doveadm"),
)

EXIM_DOVECOT = HostKind(
    name="exim-dovecot",
    services=(EXIM, DOVECOT),
    binaries=("dovecot", "doveadm"),
)

# cPanel-style host (real Exim + Dovecot at cPanel's paths, managed by the cPanel SIMULATOR): needs the real Exim.
CPANEL = HostKind(name="cpanel", services=(CPANEL_EXIM, CPANEL_DOVECOT), binaries=("dovecot", "doveadm"))

# Debian 13 "trixie": its binaries live in the Debian 13 root (bind-mounted on /usr inside the host).
DEBIAN13 = HostKind(name=DEBIAN13_NAME, services=(POSTFIX, DOVECOT), binaries=())

KINDS: dict[str, HostKind] = {POSTFIX_DOVECOT.name: POSTFIX_DOVECOT}
if exim_installed():
    KINDS[EXIM_DOVECOT.name] = EXIM_DOVECOT
    KINDS[CPANEL.name] = CPANEL
if debian13_installed():
    KINDS[DEBIAN13.name] = DEBIAN13
DEFAULT_KIND = POSTFIX_DOVECOT.name


def kind_named(name: str) -> HostKind:
    try:
        return KINDS[name]
    except KeyError:
        if name in (EXIM_DOVECOT.name, CPANEL.name):
            raise LabError(
                f"host kind {name} needs the real Exim under /opt/mailcert/exim",
                todo="run `sudo sh scripts/install-exim` first",
            ) from None
        if name == DEBIAN13.name:
            raise LabError(
                f"host kind {name} needs the Debian 13 root in {debian13_root()}",
                todo="run `sudo sh scripts/install-debian13` (or `make deps`) first",
            ) from None
        raise LabError(
            f"unknown lab host kind {name!r}", todo=f"choose one of: {', '.join(sorted(KINDS))}"
        ) from None


__all__ = [
    "CPANEL",
    "DEBIAN13",
    "DEFAULT_KIND",
    "EXIM_DOVECOT",
    "KINDS",
    "POSTFIX_DOVECOT",
    "HostKind",
    "MailService",
    "kind_named",
]
