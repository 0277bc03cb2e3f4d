"""Which mail services a host runs (roles), how to recognise them in its files, and which parser reads each."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailcert.errors import UsageError
from mailcert.facts import HostFiles
from mailcert.services.model import ServiceConfig


@dataclass(frozen=True)
class Role:
    name: str
    markers: tuple[str, ...]  # any of these host paths present → the role is detected
    parser: str  # "module:function" taking HostFiles, returning ServiceConfig


ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        Role("postfix", ("/etc/postfix/main.cf",), "mailcert.services.postfix.parser:parse_postfix"),
        Role("dovecot", ("/etc/dovecot/dovecot.conf",), "mailcert.services.dovecot.parser:parse_dovecot"),
        Role(
            "exim",
            (
                "/etc/exim4/exim4.conf",
                "/etc/exim4/exim4.conf.template",
                "/etc/exim4/conf.d",
                "/etc/exim.conf",
            ),
            "mailcert.services.exim.parser:parse_exim",
        ),
        Role("cpanel", ("/usr/local/cpanel/version",), "mailcert.services.cpanel.parser:parse_cpanel"),
    )
}


def detect_roles(files: HostFiles) -> list[str]:
    """Roles whose marker files exist on the host, in a stable order."""
    return [role.name for role in ROLES.values() if any(files.exists(marker) for marker in role.markers)]


def check_role_names(names: Sequence[str]) -> list[str]:
    unknown = [name for name in names if name not in ROLES]
    if unknown:
        raise UsageError(
            f"unknown role {', '.join(unknown)}",
            todo=f"use one of: {', '.join(ROLES)} (or leave it to detection)",
        )
    return list(names)


def parser_for(role: str) -> Callable[[HostFiles], ServiceConfig]:
    module_name, _, function = ROLES[role].parser.partition(":")
    parser: Callable[[HostFiles], ServiceConfig] = getattr(importlib.import_module(module_name), function)
    return parser
