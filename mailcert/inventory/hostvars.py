"""Turn a host's merged variables into a typed InventoryHost; a bad value names the file and line it came from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mailcert.errors import InventoryError
from mailcert.inventory.fixvars import fix_settings
from mailcert.inventory.model import (
    DEFAULT_MAX_OUTPUT_BYTES,
    HOSTNAME_SERVICES,
    InventoryHost,
    Secret,
    Where,
)
from mailcert.inventory.raw import Var

# Ansible's aliases, first wins when several are set at the same level.
_ALIASES = {
    "address": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "private_key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
    "password": ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
    "become_password": ("ansible_become_password", "ansible_become_pass", "ansible_sudo_pass"),
}
SECRET_VARS = frozenset(_ALIASES["password"] + _ALIASES["become_password"])
_TRUE = {"yes", "true", "on", "1", "y", "t"}
_FALSE = {"no", "false", "off", "0", "n", "f"}
_ACME_MODES = ("host", "central")


class VarReader:
    """One host's merged variables, read as typed values; a bad one raises InventoryError at its file and line."""

    def __init__(self, host: str, merged: Mapping[str, Var]) -> None:
        self.host = host
        self.merged = merged

    def get(self, *names: str) -> Var | None:
        for name in names:
            var = self.merged.get(name)
            if var is not None and var.value is not None:
                return var
        return None

    def fail(self, var: Var, name: str, expected: str, *, show: bool = True) -> InventoryError:
        got = f", got {var.value!r}" if show else ""
        return InventoryError(f"host {self.host}: {name} must be {expected}{got}", where=str(var.where))

    def text(self, *names: str, secret: bool = False) -> str | None:
        var = self.get(*names)
        if var is None:
            return None
        if isinstance(var.value, bool) or not isinstance(var.value, str | int | float):
            raise self.fail(var, names[0], "a string", show=not secret)
        text = str(var.value)
        if "{{" in text or "{%" in text:
            raise InventoryError(
                f"host {self.host}: {names[0]} uses a Jinja2 template",
                where=str(var.where),
                todo="mailcert reads inventories without Ansible: write the value itself",
            )
        return text

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        var = self.get(name)
        if var is None:
            return default
        value = var.value
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(var, name, f"a whole number from {low} to {high}")
        return value

    def boolean(self, name: str) -> bool | None:
        var = self.get(name)
        if var is None:
            return None
        if isinstance(var.value, bool):
            return var.value
        text = str(var.value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text == "auto":
            return None
        raise self.fail(var, name, "yes or no")

    def flag(self, name: str, default: bool) -> bool:
        """A yes/no variable without an `auto`: anything but a boolean is an error, never a silent default."""
        var = self.get(name)
        if var is None:
            return default
        value = self.boolean(name)
        if value is None:
            raise self.fail(var, name, "yes or no (true/false)")
        return value

    def names(self, name: str) -> tuple[str, ...]:
        var = self.get(name)
        if var is None:
            return ()
        return _name_list(self, var, name)


def _name_list(vars_: VarReader, var: Var, name: str, value: Any = None) -> tuple[str, ...]:
    value = var.value if value is None else value
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value) if part]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise vars_.fail(var, name, "a list of names")
    return tuple(dict.fromkeys(v.strip().lower().rstrip(".") for v in value))


def build_host(
    name: str, merged: Mapping[str, Var], groups: tuple[str, ...], where: Where, base: Path
) -> InventoryHost:
    """The typed host for `name` from its variables after precedence."""
    v = VarReader(name, merged)
    address = v.text(*_ALIASES["address"]) or name
    password = v.text(*_ALIASES["password"], secret=True)
    become_password = v.text(*_ALIASES["become_password"], secret=True)
    warn_days = v.integer("mailcert_warn_days", 21, 0, 3650)
    crit_days = v.integer("mailcert_crit_days", 7, 0, 3650)
    if crit_days > warn_days:
        var = v.get("mailcert_crit_days") or v.get("mailcert_warn_days")
        assert var is not None
        raise InventoryError(
            f"host {name}: mailcert_crit_days ({crit_days}) is larger than mailcert_warn_days ({warn_days})",
            where=str(var.where),
        )
    hostnames, service_hostnames = _hostnames(v)
    roles, roles_where = _roles(v)
    written = (*hostnames, *(n for names in service_hostnames.values() for n in names))
    return InventoryHost(
        name=name,
        address=address,
        port=v.integer("ansible_port" if v.get("ansible_port") else "ansible_ssh_port", 22, 1, 65535),
        user=v.text(*_ALIASES["user"]),
        private_key_file=_path(v.text(*_ALIASES["private_key_file"]), base),
        password=Secret(password) if password is not None else None,
        become=bool(v.boolean("ansible_become")),
        become_user=v.text("ansible_become_user") or "root",
        become_password=Secret(become_password) if become_password is not None else None,
        known_hosts=_path(v.text("mailcert_known_hosts"), base) or "~/.ssh/known_hosts",
        roles=roles,
        roles_where=roles_where,
        hostnames=hostnames,
        service_hostnames=service_hostnames,
        domains=v.names("mailcert_domains"),
        probe_address=v.text("mailcert_probe_address"),
        warn_days=warn_days,
        crit_days=crit_days,
        ca_bundle=_path(v.text("mailcert_ca_bundle"), base),
        acme_server=v.text("mailcert_acme_server") or "letsencrypt",
        acme_email=v.text("mailcert_acme_email"),
        acme_challenge=_challenge(v),
        acme_webroot=v.text("mailcert_acme_webroot"),
        acme_ca_bundle=_path(v.text("mailcert_acme_ca_bundle"), base),
        acme_mode=_choice(v, "mailcert_acme_mode", _ACME_MODES, "host"),
        reuse_key=v.boolean("mailcert_reuse_key"),
        acme_allowed_names=v.names("mailcert_acme_allowed_names"),
        roles_dir=_path(v.text("mailcert_roles_dir"), base),
        max_output_bytes=v.integer(
            "mailcert_max_output_bytes", DEFAULT_MAX_OUTPUT_BYTES, 1024 * 1024, 4 * 1024**3
        ),
        resolver=v.text("mailcert_resolver") or None,
        inventory_hostnames=tuple(dict.fromkeys(written)),
        fix=fix_settings(v),
        groups=groups,
        source=where,
        vars={k: (Secret(str(var.value)) if k in SECRET_VARS else var.value) for k, var in merged.items()},
    )


def _path(text: str | None, base: Path) -> str | None:
    """Local file paths: `~` expanded; relative paths are relative to the inventory's folder."""
    if text is None:
        return None
    expanded = Path(text).expanduser()
    return str(expanded if expanded.is_absolute() else base / expanded)


def _roles(v: VarReader) -> tuple[tuple[str, ...] | None, str | None]:
    """mailcert_roles as written, and where; its names are the services mailcert knows, which the audit checks
    (mailcert.audit.options.checked_roles): the inventory sits below the services and does not list them."""
    var = v.get("mailcert_roles")
    if var is None:
        return None, None
    return _name_list(v, var, "mailcert_roles"), str(var.where)


def _hostnames(v: VarReader) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    var = v.get("mailcert_hostnames")
    if var is None:
        return (), {}
    if not isinstance(var.value, dict):
        return _name_list(v, var, "mailcert_hostnames"), {}
    per_service: dict[str, tuple[str, ...]] = {}
    for service, names in var.value.items():
        if service not in HOSTNAME_SERVICES:
            raise InventoryError(
                f"host {v.host}: mailcert_hostnames has unknown service {service!r}",
                where=str(var.where),
                todo=f"use {', '.join(HOSTNAME_SERVICES)}",
            )
        per_service[service] = _name_list(v, var, f"mailcert_hostnames.{service}", names)
    return (), per_service


def _challenge(v: VarReader) -> str:
    value = v.text("mailcert_acme_challenge") or "standalone"
    if value in ("standalone", "webroot") or (value.startswith("dns-") and len(value) > 4):
        return value
    var = v.get("mailcert_acme_challenge")
    assert var is not None
    raise v.fail(var, "mailcert_acme_challenge", "standalone, webroot or dns-<certbot plugin>")


def _choice(v: VarReader, name: str, choices: tuple[str, ...], default: str) -> str:
    value = v.text(name) or default
    if value not in choices:
        var = v.get(name)
        assert var is not None
        raise v.fail(var, name, " or ".join(choices))
    return value
