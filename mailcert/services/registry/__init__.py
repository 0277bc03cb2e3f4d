"""Every kind of host service mailcert knows, one descriptor each (services/<name>/service.py).

A package of its own, not a module of mailcert.services: it imports every service folder, which import
mailcert.services' shared modules (model, include_scope, descriptor), so mailcert.services itself must not
import the folders back. Adding a service kind: its folder with a service.py, one line here, its
roles/<name>/role.yml and its entry in fix/plan/services.py (tests/unit/test_service_registry.py checks all).
"""

from __future__ import annotations

from collections.abc import Sequence

from mailcert.errors import UsageError
from mailcert.facts import HostFiles
from mailcert.services.certbot.service import SERVICE as CERTBOT
from mailcert.services.cpanel.service import SERVICE as CPANEL
from mailcert.services.descriptor import Parser, Service
from mailcert.services.dovecot.service import SERVICE as DOVECOT
from mailcert.services.exim.service import SERVICE as EXIM
from mailcert.services.postfix.service import SERVICE as POSTFIX

# In this order everywhere a host's services are listed (detection, reloads).
SERVICES: dict[str, Service] = {s.name: s for s in (POSTFIX, DOVECOT, EXIM, CPANEL, CERTBOT)}

# The services a host runs as mailcert_roles / `lint --role` names them: those with a parser of their own.
ROLES: dict[str, Service] = {name: s for name, s in SERVICES.items() if s.parser is not None}


def detect_roles(files: HostFiles) -> list[str]:
    """Services whose marker files exist on the host, in a stable order."""
    return [s.name for s in ROLES.values() if any(files.exists(marker) for marker in s.markers)]


def check_role_names(names: Sequence[str]) -> list[str]:
    unknown = [name for name in names if name not in ROLES]
    if unknown:
        raise UsageError(
            f"unknown role {', '.join(unknown)}",
            todo=f"use one of: {', '.join(ROLES)} (or leave it to detection)",
        )
    return list(names)


def parser_for(role: str) -> Parser:
    parser = ROLES[role].parser
    assert parser is not None  # ROLES holds only services with a parser
    return parser


def service_of_path(path: str) -> str | None:
    """The service whose configuration folders hold `path` (whose validation a write to it needs), or None."""
    return next((s.name for s in SERVICES.values() if s.holds(path)), None)


__all__ = [
    "ROLES",
    "SERVICES",
    "Service",
    "check_role_names",
    "detect_roles",
    "parser_for",
    "service_of_path",
]
