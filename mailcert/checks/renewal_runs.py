"""renewal.not-configured, renewal.no-reload-hook, renewal.overdue: does renewal run and reach the daemons?"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from mailcert.checks.renewal_fixes import hook_fix
from mailcert.checks.renewal_uses import CertUse, finding, where
from mailcert.model import Finding
from mailcert.quoting import shell_command
from mailcert.services.certbot.hooks import POSTMAP_F
from mailcert.services.certbot.model import CertbotState, HookStage, Lineage
from mailcert.services.certbot.parser import when

# Exim reads certificate files per connection, or (4.95+) reloads its preloaded ones when their
# directory changes (reference §3.2), so a certbot renewal reaches it without a reload.
SELF_RELOADING = frozenset({"exim"})
_GRACE = timedelta(days=3)
_INTERVAL = re.compile(r"^\s*(\d+)\s*(d|days?|w|weeks?|h|hours?)\s*$", re.IGNORECASE)


# -- renewal.not-configured -----------------------------------------------------------------------------------


def not_configured(state: CertbotState, used: dict[str, list[CertUse]]) -> list[Finding]:
    findings: list[Finding] = []
    if state.lineages and state.installed is False:
        names = ", ".join(lineage.name for lineage in state.lineages)
        message = f"certbot is not installed, but {state.config_dir} holds lineages ({names}) that nothing can renew"
        fix = (
            "install certbot (Debian: `apt-get install certbot`, which also enables certbot.timer; RHEL-family: "
            "`dnf install certbot` from EPEL, then `systemctl enable --now certbot-renew.timer`)"
        )
        findings.append(finding("renewal.not-configured", message, fix, file=state.config_dir))
    elif used and state.schedule_known and not state.renewal_scheduled:
        why = "; ".join(f"{s.path}: {s.why_not}" for s in state.schedules if s.why_not)
        timers = [s for s in state.schedules if s.kind == "systemd-timer"]
        message = (
            f"nothing runs `certbot renew` on this host (no cron line, no active certbot timer{': ' + why if why else ''}); "
            f"the certificates of {', '.join(sorted(used))} will expire"
        )
        if timers:
            unit = timers[0].text
            masked = any(t.why_not and "masked" in t.why_not for t in timers)
            enable = shell_command("systemctl", "enable", "--now", unit)
            fix = f"`{shell_command('systemctl', 'unmask', unit) + ' && ' if masked else ''}{enable}`"
        else:
            fix = (
                "`echo '17 3,15 * * * root certbot -q renew' > /etc/cron.d/certbot` (or enable certbot.timer)"
            )
        findings.append(
            finding("renewal.not-configured", message, fix, file=timers[0].path if timers else None)
        )
    for name, group in sorted(used.items()):
        lineage = state.lineage(name)
        if lineage is None:
            continue
        reason, fix = _why_not_renewed(lineage)
        if reason:
            message = f"lineage {name} used by {where(group)} will not be renewed: {reason}"
            findings.append(finding("renewal.not-configured", message, fix, group, lineage.renewal_conf))
    return findings


def _domains(names: Sequence[str]) -> list[str]:
    """certbot's `-d NAME` words for `names` (`-d NAME` as a placeholder when none are known)."""
    return [word for name in names for word in ("-d", name)] or ["-d", "NAME"]


def _why_not_renewed(lineage: Lineage) -> tuple[str | None, str]:
    cert_name = lineage.name
    if lineage.conf_error:
        return lineage.conf_error, (
            "re-issue it so certbot records how to renew it: "
            f"`{shell_command('certbot', 'certonly', '--cert-name', cert_name, *_domains(lineage.names))}` "
            "with the authenticator you use"
        )
    if not lineage.autorenew:
        return f"{lineage.renewal_conf} sets autorenew = False", (
            f"delete the `autorenew = False` line from [renewalparams] in {lineage.renewal_conf}"
        )
    if lineage.authenticator == "manual" and not lineage.manual_auth_hook:
        return (
            "it was issued with --manual and no --manual-auth-hook, so `certbot renew` cannot answer the challenge",
            (
                "re-issue with an authenticator that works unattended, e.g. "
                f"`{shell_command('certbot', 'certonly', '--cert-name', cert_name, '--webroot', '-w', '/var/www/html')}` "
                "or a --dns-PROVIDER plugin"
            ),
        )
    return None, ""


# -- renewal.no-reload-hook -----------------------------------------------------------------------------------


def no_reload_hook(state: CertbotState, used: dict[str, list[CertUse]]) -> list[Finding]:
    findings: list[Finding] = []
    for name, group in sorted(used.items()):
        lineage = state.lineage(name)
        if lineage is None or lineage.conf_error:
            continue
        needed = [s for s in dict.fromkeys(u.service for u in group) if s not in SELF_RELOADING]
        sni = any(u.rebuilt_by for u in group)  # an indexed Postfix SNI table embeds the files: postmap -F
        hooks = [h for h in (*state.hooks, *lineage.hooks) if h.stage in (HookStage.DEPLOY, HookStage.POST)]
        done = set().union(*(h.reloads for h in hooks if h.runs)) if hooks else set()
        missing = [s for s in needed if s not in done]
        missing_postmap = sni and POSTMAP_F not in done
        if not missing and not missing_postmap:
            continue
        what = [*missing, *(["`postmap -F` of the SNI table"] if missing_postmap else [])]
        skipped = [
            h
            for h in hooks
            if not h.runs and h.reloads & {*missing, *([POSTMAP_F] if missing_postmap else [])}
        ]
        note = "".join(
            f"; {h.source} would, but certbot skips it ({_why_skipped(h.source, h.mode)})" for h in skipped
        )
        message = (
            f"certbot renews lineage {name} (used by {where(group)}) but no deploy or post hook "
            f"{'reloads' if missing else 'runs'} {' or '.join(what)}{note}: after a renewal the running "
            f"daemon keeps serving the old certificate until it expires"
        )
        fix = hook_fix(state, lineage, missing, missing_postmap, skipped)
        affected = [u for u in group if u.service in missing] or group
        findings.append(finding("renewal.no-reload-hook", message, fix, affected, lineage.renewal_conf))
    return findings


def _why_skipped(path: str, mode: int | None) -> str:
    if path.endswith("~"):
        return "its name ends in '~'"
    return f"not executable, mode {mode:04o}" if mode is not None else "not executable"


# -- renewal.overdue ------------------------------------------------------------------------------------------


def renewal_window(lineage: Lineage) -> timedelta:
    """renew_before_expiry from the conf ("30 days", "2 weeks"), certbot's default 30 days otherwise."""
    match = _INTERVAL.match(lineage.renew_before_expiry or "")
    if match is None:
        return timedelta(days=30)
    amount, unit = int(match.group(1)), match.group(2)[0].lower()
    return {"d": timedelta(days=amount), "w": timedelta(weeks=amount), "h": timedelta(hours=amount)}[unit]


def overdue(state: CertbotState, used: dict[str, list[CertUse]], now: datetime) -> list[Finding]:
    findings: list[Finding] = []
    for name, group in sorted(used.items()):
        lineage = state.lineage(name)
        if lineage is None or lineage.not_after is None or lineage.conf_error or not lineage.autorenew:
            continue
        due = lineage.not_after - renewal_window(lineage)
        if now < due + _GRACE:
            continue
        failures = [f for f in state.failures if f.lineage == name]
        why = (
            f"; certbot's last attempt ({failures[-1].when}, {failures[-1].log_file}) failed: {failures[-1].error}"
            if failures
            else ""
        )
        message = (
            f"lineage {name} (used by {where(group)}) expires {when(lineage.not_after)} and has been due for "
            f"renewal since {when(due)}: renewals are failing{why}"
        )
        renew = shell_command("certbot", "renew", "--cert-name", name)
        fix = f"run `{renew}` and fix the error it reports (full log: /var/log/letsencrypt/letsencrypt.log)"
        findings.append(finding("renewal.overdue", message, fix, group, lineage.renewal_conf))
    return findings
