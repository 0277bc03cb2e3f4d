"""The kinds of lab host. `postfix-dovecot` is the default; `exim-dovecot` appears when a real Exim is
installed under /opt/mailcert/exim (scripts/install-exim); `cpanel` will get its own module here."""

from __future__ import annotations

from mailcert.lab import LabError
from mailcert.lab.kinds.base import HostKind, MailService
from mailcert.lab.kinds.dovecot import DOVECOT
from mailcert.lab.kinds.postfix import POSTFIX

POSTFIX_DOVECOT = HostKind(
    name="postfix-dovecot",
    services=(POSTFIX, DOVECOT),
    binaries=("postfix", "postconf", "dovecot", "doveadm"),
)

KINDS: dict[str, HostKind] = {POSTFIX_DOVECOT.name: POSTFIX_DOVECOT}
DEFAULT_KIND = POSTFIX_DOVECOT.name


def kind_named(name: str) -> HostKind:
    try:
        return KINDS[name]
    except KeyError:
        raise LabError(
            f"unknown lab host kind {name!r}", todo=f"choose one of: {', '.join(sorted(KINDS))}"
        ) from None


__all__ = ["DEFAULT_KIND", "KINDS", "HostKind", "MailService", "kind_named"]
