"""Certificate changes: point each source with a certificate or key problem at a certbot lineage's
live/NAME/fullchain.pem + privkey.pem, issuing, expanding or renewing that lineage first when needed."""

from __future__ import annotations

from collections.abc import Callable

from mailcert.checks.renewal_uses import lineage_of
from mailcert.fix.model import Change, ChangeKind
from mailcert.fix.plan import dovecot as plan_dovecot
from mailcert.fix.plan import exim as plan_exim
from mailcert.fix.plan import postfix as plan_postfix
from mailcert.fix.plan.acme import Target, choose_target
from mailcert.fix.plan.base import PROBLEMS, PlanState, SourceUse
from mailcert.fix.plan.install import enable_timer, install_hint, package_manager, unknown_manager_reason
from mailcert.model import Finding
from mailcert.services.model import Location

# Findings a good certificate from a lineage removes, for the source they were found on.
CERT_CHECKS = frozenset(
    {
        "cert.missing", "cert.unparsable", "cert.expired", "cert.expiring", "cert.not-yet-valid",
        "cert.name-mismatch", "cert.no-san", "cert.self-signed", "cert.untrusted", "cert.chain-incomplete",
        "cert.chain-order", "cert.leaf-not-first", "cert.wrong-usage", "cert.weak-key", "cert.weak-signature",
        "key.missing", "key.mismatch", "key.encrypted", "config.cert-not-fullchain",
    }
)  # fmt: skip

# Findings about the certificate file's content itself (a lineage holding it needs a new certificate).
CONTENT_CHECKS = frozenset(
    {
        "cert.expired", "cert.expiring", "cert.not-yet-valid", "cert.no-san", "cert.self-signed",
        "cert.untrusted", "cert.chain-incomplete", "cert.chain-order", "cert.wrong-usage", "cert.weak-key",
        "cert.weak-signature",
    }
)  # fmt: skip

Repoint = Callable[[PlanState, SourceUse, str, str, list[Finding], str], bool]
REPOINT: dict[str, Repoint] = {
    "postfix": plan_postfix.repoint,
    "dovecot": plan_dovecot.repoint,
    "exim": plan_exim.repoint,
}


def plan_certificates(state: PlanState, uses: list[SourceUse], repaired: set[int]) -> dict[int, str]:
    """Queue the repoints and the certbot run; returns source id → lineage name it will use."""
    planned: dict[int, str] = {}
    waiting: list[tuple[SourceUse, list[Finding]]] = []
    for use in uses:
        if id(use) in repaired:
            continue
        problems = [
            f
            for f in use.findings
            if f.severity in PROBLEMS and f.check in CERT_CHECKS and f not in state.covered
        ]
        unmanaged = _unmanaged(state, use)
        if not problems and not unmanaged:
            continue
        current = lineage_of(state.certbot, use.source.cert_files[0]) if use.source.cert_files else None
        same_lineage = all(f.check == "config.cert-not-fullchain" for f in problems)
        if current is not None and same_lineage:
            lineage = current[0]
            why = f"certbot lineage {lineage.name}'s full chain, renewed in place"
            if _repoint(
                state,
                use,
                f"{lineage.live_dir}/fullchain.pem",
                f"{lineage.live_dir}/privkey.pem",
                problems + unmanaged,
                why,
            ):
                planned[id(use)] = lineage.name
            continue
        waiting.append((use, problems + unmanaged))
    if waiting:
        _to_target(state, waiting, planned)
    return planned


def _unmanaged(state: PlanState, use: SourceUse) -> list[Finding]:
    location = use.source.location
    if location is None or use.sni:
        return []
    return [
        f
        for f in state.problems()
        if f.check == "renewal.unmanaged-path"
        and (f.file, f.line) in {(location.file, location.line), _at(use.source.key_location)}
        and f.service in (None, use.listener.service)
        and f not in state.covered
    ]


def _at(location: Location | None) -> tuple[str | None, int | None]:
    return (location.file, location.line) if location else (None, None)


def _repoint(
    state: PlanState, use: SourceUse, fullchain: str, privkey: str, removes: list[Finding], why: str
) -> bool:
    repoint = REPOINT.get(use.listener.service)
    if repoint is None:
        return False
    return repoint(state, use, fullchain, privkey, removes, why)


def _to_target(
    state: PlanState, waiting: list[tuple[SourceUse, list[Finding]]], planned: dict[int, str]
) -> None:
    bad = {
        path
        for use, findings in waiting
        if any(f.check in CONTENT_CHECKS for f in findings)
        for path in use.source.cert_files
    }
    target = choose_target(state, bad)
    everything = [f for _, findings in waiting for f in findings]
    if target is None:
        state.cannot(
            "no hostname is known for this host (set mailcert_hostnames), so no certificate can be issued",
            everything,
        )
        return
    if not target.usable:
        state.cannot(target.why_not or "no certificate can be issued", everything)
        return
    if target.command is not None and state.certbot.installed is False and not _certbot_installable(state):
        state.cannot(_no_certbot(state), everything)
        return
    by_certbot: list[Finding] = []
    why = f"certbot lineage {target.name}, covering {', '.join(target.names)}"
    for use, findings in waiting:
        if _already_uses(use, target):
            by_certbot += findings
            state.reload_service(use.listener.service)
            planned[id(use)] = target.name
        elif _repoint(state, use, target.fullchain, target.privkey, findings, why):
            planned[id(use)] = target.name
    if target.command is not None:
        lineage_findings = [
            f
            for f in state.problems()
            if f.check in ("renewal.overdue",) and f.file and f.file.endswith(f"/renewal/{target.name}.conf")
        ]
        description = {
            "issue": f"issue certificate {target.name} for {', '.join(target.names)} with certbot",
            "expand": f"expand certificate {target.name} to {', '.join(target.names)} with certbot",
            "renew": f"renew certificate {target.name} now with certbot",
        }[target.action]
        if state.certbot.installed is False:
            manager = package_manager(state.files)
            assert manager is not None  # _certbot_installable said so
            state.add(
                Change(
                    ChangeKind.INSTALL,
                    f"install certbot with {manager.name} (it is not installed; --install-certbot)",
                    command=manager.install,
                    service="certbot",
                )
            )
            if manager.timer is not None and state.systemd:
                state.add(enable_timer(manager.timer, f"{manager.name}'s certbot package leaves it disabled"))
        state.add(
            Change(ChangeKind.ISSUE, description, command=target.command, service="certbot"),
            by_certbot + lineage_findings,
        )
        for use_service in {u.listener.service for u, _ in waiting}:
            state.reload_service(use_service)


def _certbot_installable(state: PlanState) -> bool:
    return state.install_certbot and package_manager(state.files) is not None


def _no_certbot(state: PlanState) -> str:
    if state.install_certbot:
        return unknown_manager_reason(state.files)
    return (
        f"certbot is not installed on the host (renewal.not-configured): install it with "
        f"{install_hint(state.files)}, or run fix with --install-certbot"
    )


def _already_uses(use: SourceUse, target: Target) -> bool:
    source = use.source
    if source.setting == "smtpd_tls_chain_files":
        return source.cert_files == (target.privkey, target.fullchain)
    return source.cert_files == (target.fullchain,) and source.key_file == target.privkey
