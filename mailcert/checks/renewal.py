"""Renewal checks: will a certbot renewal happen, and reach the services that use its certificates?

Inputs are certbot's state (mailcert.services.certbot.parser.read_certbot) and which service setting points at
which certificate path (CertUse, see cert_uses()). Checks: renewal.unmanaged-path,
renewal.lineage-superseded, renewal.not-configured, renewal.no-reload-hook, renewal.overdue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from mailcert.checks.renewal_paths import superseded_lineages, unmanaged_paths
from mailcert.checks.renewal_runs import (
    SELF_RELOADING,
    no_reload_hook,
    not_configured,
    overdue,
    renewal_window,
)
from mailcert.checks.renewal_uses import CertUse, cert_uses, lineage_uses
from mailcert.facts import HostFiles
from mailcert.model import Finding
from mailcert.services.certbot.model import CertbotState
from mailcert.services.certbot.parser import DEFAULT_CONFIG_DIR, read_certbot
from mailcert.services.model import ServiceConfig

__all__ = ["SELF_RELOADING", "CertUse", "cert_uses", "check_renewal", "renewal_findings", "renewal_window"]


def check_renewal(state: CertbotState, uses: Sequence[CertUse], now: datetime) -> list[Finding]:
    """Findings about certbot renewals not reaching (or not happening for) the certificates services use."""
    used = lineage_uses(state, uses)
    findings = unmanaged_paths(state, uses)
    findings += superseded_lineages(state, used, uses)
    findings += not_configured(state, used)
    findings += no_reload_hook(state, used)
    findings += overdue(state, used, now)
    return findings


def renewal_findings(
    files: HostFiles, services: Iterable[ServiceConfig], now: datetime, config_dir: str = DEFAULT_CONFIG_DIR
) -> list[Finding]:
    """The renewal findings of one host: read certbot's files, map the services' certificates, check."""
    state = read_certbot(files, config_dir)
    if not state.lineages:
        return []
    return check_renewal(state, cert_uses(services, files), now)
