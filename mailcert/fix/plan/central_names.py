"""Which names central mode may request: only those the inventory grants (issue 19).

In central mode certbot runs on the control machine with the DNS update key, so a name it requests is a
name the operator's ACME account and DNS zone vouch for. A mail host is not trusted: a Dovecot
`local_name www.victim-bank.example` on a compromised host must never become `-d www.victim-bank.example`.
The inventory grants a name by
- `mailcert_hostnames` as written in the inventory (list, string or per-service mapping; names DNS adds
  through mailcert_hostnames_from_dns are not in it),
- `mailcert_domains`: the domain itself and every name under it,
- `mailcert_acme_allowed_names`: exact names or `*.example.com` patterns (`*` is one label).
Anything else a host's configuration or DNS adds stays a finding (cert.name-mismatch) and is listed in the
plan as not requested.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mailcert.inventory.model import InventoryHost

ALLOWED_VAR = "mailcert_acme_allowed_names"


def _normal(name: str) -> str:
    return name.strip().lower().rstrip(".")


def granted(name: str, host: InventoryHost) -> bool:
    """Whether the inventory grants `name` to this host (see the module's docstring)."""
    wanted = _normal(name)
    if wanted in host.inventory_hostnames:  # as written, not as DNS or the config extended it
        return True
    if any(wanted == d or wanted.endswith(f".{d}") for d in (_normal(d) for d in host.domains)):
        return True
    return any(_matches(wanted, _normal(p)) for p in host.acme_allowed_names)


def split_granted(names: Sequence[str], host: InventoryHost) -> tuple[list[str], list[str]]:
    """(names the inventory grants, names it does not), each in the given order."""
    allowed = [n for n in names if granted(n, host)]
    return allowed, [n for n in names if n not in allowed]


def refused_reason(refused: Iterable[str]) -> str:
    """The plan's line for names that are not requested (values from a host: shown, never trusted)."""
    from mailcert.quoting import shown

    listed = ", ".join(shown(n) for n in refused)
    return (
        f"not requested in central mode: {listed} (named by the host's configuration or DNS, not granted by "
        "the inventory); add them to mailcert_hostnames, mailcert_domains or mailcert_acme_allowed_names if "
        "this host should have them"
    )


def _matches(name: str, pattern: str) -> bool:
    if pattern == name:
        return True
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        label, _, rest = name.partition(".")
        return bool(label) and label != "*" and rest == pattern[2:]
    return False
