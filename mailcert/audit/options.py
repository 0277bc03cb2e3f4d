"""How a host is linted, from its inventory entry: the one source of LintOptions for the audit, for fix's
check of a plan's result, and for the planner's own lint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from mailcert.audit.lint import Hostnames, LintOptions
from mailcert.checks.certs import CheckOptions
from mailcert.errors import InventoryError
from mailcert.inventory.model import HOSTNAME_SERVICES, InventoryHost
from mailcert.pki.trust import TrustStore
from mailcert.services.registry import ROLES


def hostnames_of(host: InventoryHost) -> Hostnames | None:
    """The inventory's mailcert_hostnames in lint's form: a list, a mapping per service, or None (detect)."""
    if host.service_hostnames:
        return {service: list(host.names_for(service)) for service in HOSTNAME_SERVICES}
    if host.hostnames:
        return list(host.hostnames)
    return None


def trust_bundles(host: InventoryHost, ca_bundles: Sequence[str] = ()) -> tuple[str, ...]:
    """The extra roots to trust for `host`: --ca-bundle files, then its mailcert_ca_bundle, each once."""
    return tuple(dict.fromkeys([*ca_bundles, *([host.ca_bundle] if host.ca_bundle else [])]))


def checked_roles(host: InventoryHost) -> tuple[str, ...] | None:
    """The host's mailcert_roles, each a service mailcert knows (services/registry); an unknown one is an
    inventory error at the line that sets it. None: detect from the files present."""
    if host.roles is None:
        return None
    unknown = [role for role in host.roles if role not in ROLES]
    if unknown:
        raise InventoryError(
            f"host {host.name}: mailcert_roles has unknown role(s) {', '.join(unknown)}",
            where=host.roles_where or host.name,
            todo=f"use {', '.join(ROLES)}",
        )
    return host.roles


def lint_options(
    host: InventoryHost, *, now: datetime, trust: TrustStore, versions: Mapping[str, str] | None = None
) -> LintOptions:
    """Lint `host` as of `now` with `trust`: its warn/crit days, its hostnames and its roles; `versions`: the
    daemon versions its gather reported (GatheredHost.versions), which decide how Postfix and Dovecot read."""
    checks = CheckOptions(now=now, trust=trust, warn_days=host.warn_days, crit_days=host.crit_days)
    return LintOptions(
        checks=checks, hostnames=hostnames_of(host), roles=checked_roles(host), versions=dict(versions or {})
    )
