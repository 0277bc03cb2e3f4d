"""What verify derives from a fleet's audits: each host's thresholds, and `certbot renew --dry-run` on every
host that has lineages."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from mailcert.audit.host import AuditSettings, HostAudit
from mailcert.errors import MailcertError
from mailcert.model import Finding, Severity
from mailcert.services.certbot.parser import read_certbot
from mailcert.ssh import StrictConnection, sudo_error
from mailcert.verify import Thresholds
from mailcert.verify.renew_dry_run import DRY_RUN_TIMEOUT, RENEW_DRY_RUN, dry_run_findings


def thresholds_of(results: Sequence[HostAudit]) -> dict[str, Thresholds]:
    return {r.host.name: Thresholds(r.host.warn_days, r.host.crit_days) for r in results}


def _dry_run_one(result: HostAudit, settings: AuditSettings) -> list[Finding]:
    conn = StrictConnection(result.host, timeout=settings.connect_timeout)
    try:
        return _checked_dry_run(conn, result)
    except MailcertError as exc:
        return [_dry_run_error(exc.line())]
    finally:
        conn.close()


def _checked_dry_run(conn: StrictConnection, result: HostAudit) -> list[Finding]:
    output = conn.execute_as_root(RENEW_DRY_RUN, timeout=DRY_RUN_TIMEOUT)
    refused = sudo_error(output, result.host)
    if refused is not None:
        return [_dry_run_error(refused.line())]
    return dry_run_findings(output)


def _dry_run_error(reason: str) -> Finding:
    return Finding(
        check="renewal.not-configured",
        severity=Severity.UNKNOWN,
        message=f"could not run `certbot renew --dry-run`: {reason}",
        fix="fix the connection or sudo problem, then run `mailcert verify --renew-dry-run` again",
    )


def dry_run_all(
    results: Sequence[HostAudit], settings: AuditSettings, forks: int
) -> dict[str, list[Finding]]:
    """`certbot renew --dry-run` on every checked host that has certbot lineages, `forks` at a time."""
    eligible = [
        r
        for r in results
        if r.gathered is not None and r.report.error is None and read_certbot(r.gathered).lineages
    ]
    if not eligible:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(eligible)))) as pool:
        found = list(pool.map(lambda r: _dry_run_one(r, settings), eligible))
    return {r.host.name: f for r, f in zip(eligible, found, strict=True) if f}
