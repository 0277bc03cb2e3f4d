"""The inventory variables only `fix` (and `verify --renew`) read, typed into FixSettings by build_host.

A bad value is an InventoryError at its file and line, like any other variable's. One exception, as
docs/contract-additions.md says: a `mailcert_state_dir` that is not an absolute path becomes a Refusal,
so the audit reads on without it and `fix` refuses it when it needs the folder.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mailcert.inventory.model import (
    DEFAULT_CENTRAL_CERT_DIR,
    DEFAULT_PROPAGATION_SECONDS,
    DEFAULT_RENEW_BEFORE_DAYS,
    DEFAULT_STATE_DIR,
    INLINE_SECRETS,
    FixSettings,
    Refusal,
)

if TYPE_CHECKING:
    from mailcert.inventory.hostvars import VarReader

_ENV_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
MAX_RENEW_BEFORE_DAYS = 36500


def fix_settings(v: VarReader) -> FixSettings:
    """The host's FixSettings from its merged variables."""
    caa = (v.text("mailcert_acme_caa_domain") or "").strip().rstrip(".").lower()
    return FixSettings(
        hostnames_from_dns=v.flag("mailcert_hostnames_from_dns", False),
        acme_preflight=v.flag("mailcert_acme_preflight", True),
        acme_caa_domain=caa or None,
        cert_name=v.text("mailcert_cert_name") or None,
        state_dir=_state_dir(v),
        central_cert_dir=_absolute(v, "mailcert_central_cert_dir") or DEFAULT_CENTRAL_CERT_DIR,
        central_state_dir=_absolute(v, "mailcert_central_state_dir"),
        acme_dns_credentials=v.text("mailcert_acme_dns_credentials", secret=True) or None,
        acme_dns_credentials_env=_env_name(v, "mailcert_acme_dns_credentials_env"),
        acme_dns_propagation_seconds=v.integer(
            "mailcert_acme_dns_propagation_seconds", DEFAULT_PROPAGATION_SECONDS, 0, 3600
        ),
        renew_before_days=v.integer(
            "mailcert_renew_before_days", DEFAULT_RENEW_BEFORE_DAYS, 0, MAX_RENEW_BEFORE_DAYS
        ),
        inline_secret=next((name for name in INLINE_SECRETS if name in v.merged), None),
    )


def _state_dir(v: VarReader) -> str | Refusal:
    var = v.get("mailcert_state_dir")
    if var is None:
        return DEFAULT_STATE_DIR
    value = var.value
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value or "\x00" in value:
        return Refusal(f"host {v.host}: mailcert_state_dir {value!r} is not an absolute path", var.where)
    return value.rstrip("/") or "/"


def _absolute(v: VarReader, name: str) -> str | None:
    """An absolute path (on the host or the control machine: never expanded here)."""
    value = v.text(name)
    if value is None:
        return None
    if not value.startswith("/") or "\n" in value or "\x00" in value:
        var = v.get(name)
        assert var is not None
        raise v.fail(var, name, "an absolute path")
    return value.rstrip("/") or "/"


def _env_name(v: VarReader, name: str) -> str | None:
    value = v.text(name)
    if not value:
        return None
    if not _ENV_NAME.match(value):
        var = v.get(name)
        assert var is not None
        raise v.fail(var, name, "the name of an environment variable (letters, digits, _)")
    return value
