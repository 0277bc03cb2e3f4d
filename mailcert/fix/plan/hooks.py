"""certbot deploy hook, stale daemons and key permissions: the changes that are not config edits."""

from __future__ import annotations

import re

from mailcert.checks.renewal_runs import SELF_RELOADING
from mailcert.checks.renewal_uses import lineage_of
from mailcert.fix import values
from mailcert.fix.model import Change, ChangeKind, FileChange
from mailcert.fix.plan.base import PlanState, SourceUse, command
from mailcert.fix.plan.install import enable_timer
from mailcert.model import Finding
from mailcert.services.certbot.hooks import POSTMAP_F
from mailcert.services.postfix.config import PostfixConfig

HOOK_NAME = "mailcert-reload"
POSTMAP_TYPES = frozenset({"hash", "btree", "lmdb", "cdb", "dbm", "sdbm"})


def sni_tables(state: PlanState) -> list[str]:
    """Postfix SNI tables that postmap builds (`type:path`), from tls_server_sni_maps."""
    if not any(s.service == "postfix" for s in state.model.services):
        return []
    try:
        raw = PostfixConfig.load(state.files).value("tls_server_sni_maps")
    except Exception:  # noqa: BLE001 — an unreadable main.cf already has its own finding
        return []
    tables = []
    for item in re.split(r"[\s,]+", raw):
        kind, _, path = item.partition(":")
        if kind in POSTMAP_TYPES and path.startswith("/"):
            tables.append(f"{kind}:{values.path(path, 'a Postfix SNI table')}")
    return tables


def plan_hook(state: PlanState, uses: list[SourceUse], planned: dict[int, str]) -> None:
    """Install renewal-hooks/deploy/mailcert-reload when renewals would not reach the daemons: now
    (renewal.no-reload-hook) or once the plan's repoints and new lineages are in place."""
    findings = [f for f in state.problems() if f.check == "renewal.no-reload-hook" and f not in state.covered]
    lineages: dict[str, set[str]] = {}
    sni_users: set[str] = set()
    for use in uses:
        if not use.listener.tls_enabled:
            continue
        name = planned.get(id(use))
        if name is None:
            for path in (*use.source.cert_files, use.source.key_file):
                found = lineage_of(state.certbot, path) if path else None
                if found is not None:
                    name = found[0].name
                    break
        if name is not None and use.listener.service not in SELF_RELOADING:
            lineages.setdefault(name, set()).add(use.listener.service)
            if use.sni and use.listener.service == "postfix":
                sni_users.add(name)
    if not lineages:
        return
    tables = sni_tables(state)
    if _reloaded_already(state, lineages, bool(sni_users and tables)):
        # after this plan, renewals reach every daemon (planned repoints included); what is left is a
        # request for `postmap -F` of a table postmap cannot build (texthash, inline: read as they are)
        if findings:
            state.cannot(
                "the deploy hooks already reload these services, and its SNI tables are read directly "
                "(texthash/inline): no `postmap -F` is needed",
                findings,
            )
        return
    config_dir = state.certbot.config_dir
    context_lineages = []
    for name, services in sorted(lineages.items()):
        reloads = []
        for service in sorted(services):
            role = state.roles.role(service)
            systemd = role.reload_argv(True, role.host_unit(state.files, state.units))
            reloads.append({"systemd": list(systemd), "command": list(role.reload_command)})
        context_lineages.append(
            {
                "name": name,
                "live_dir": values.path(
                    f"{config_dir}/live/{values.lineage_name(name)}", "a certbot live/ folder"
                ),
                "services": sorted(services),
                "reloads": reloads,
                "postmap_tables": tables if "postfix" in services else [],
            }
        )
    text = state.roles.render(
        "certbot",
        "deploy_hook",
        {"lineages": context_lineages, "postmap": list(state.roles.role("postfix").postmap_sni)},
    )
    path = f"{config_dir}/renewal-hooks/deploy/{HOOK_NAME}"
    existing = state.files.read_config(path).text if state.files.exists(path) else None
    if existing == text:
        return
    kind = ChangeKind.CREATE if existing is None else ChangeKind.EDIT
    description = f"install certbot deploy hook {path}: after a renewal, reload " + "; ".join(
        f"{name} → {', '.join(sorted(services))}" for name, services in sorted(lineages.items())
    )
    state.add(
        Change(kind, description, file=FileChange(path, existing, text, mode=0o755), service="certbot"),
        findings,
    )


def _reloaded_already(state: PlanState, lineages: dict[str, set[str]], postmap: bool) -> bool:
    hooks = [h for h in state.certbot.hooks if h.runs]
    hooks += [h for lineage in state.certbot.lineages if lineage.name in lineages for h in lineage.hooks]
    done: set[str] = set().union(*(h.reloads for h in hooks)) if hooks else set()
    return all(services <= done for services in lineages.values()) and (not postmap or POSTMAP_F in done)


def plan_stale(state: PlanState) -> None:
    """tls.stale: rebuild a stale Postfix SNI table, reload the daemon serving an old certificate."""
    tables = sni_tables(state)
    for finding in state.problems():
        if finding.check != "tls.stale" or finding in state.covered:
            continue
        table = _table_for(finding, tables)
        if table is not None:
            postmap = state.roles.role("postfix").postmap_sni
            state.add(
                Change(
                    ChangeKind.COMMAND,
                    f"rebuild Postfix SNI table {table}",
                    command=command(*postmap, table),
                    service="postfix",
                ),
                [finding],
            )
            state.reload_service("postfix", [finding])
        elif finding.service is not None and finding.service in state.roles.roles:
            state.reload_service(finding.service, [finding])


def plan_timer(state: PlanState) -> None:
    """renewal.not-configured because the certbot timer is installed but not enabled (how Fedora's and EPEL's
    certbot-renew.timer ships): enable it. A masked timer was masked on purpose: left to the admin."""
    if not state.systemd:
        return
    for finding in state.problems():
        if finding.check != "renewal.not-configured" or finding in state.covered:
            continue
        for timer in state.certbot.schedules:
            disabled = (
                timer.kind == "systemd-timer" and not timer.runs and "masked" not in (timer.why_not or "")
            )
            if disabled and timer.path == finding.file:
                state.add(enable_timer(timer.text, "it is installed but not enabled"), [finding])
                break


def _table_for(finding: Finding, tables: list[str]) -> str | None:
    if finding.service != "postfix" or not finding.file:
        return None
    for table in tables:
        path = table.partition(":")[2]
        if finding.file in (path, path + ".db", path + ".lmdb", path + ".cdb"):
            return table
    return None


def plan_key_permissions(state: PlanState, uses: list[SourceUse]) -> None:
    for finding in state.problems():
        if finding.check != "key.permissions" or not finding.file or finding in state.covered:
            continue
        readers = {
            u.listener.service for u in uses if finding.file in (u.source.key_file, *u.source.cert_files)
        }
        if "exim" in readers:
            state.cannot(
                "Exim reads the key as its own user: give it mode 0640 and the Exim group by hand", [finding]
            )
            continue
        path = values.path(finding.file, "a key file")
        state.add(
            Change(
                ChangeKind.COMMAND,
                f"make {path} readable by root only (chmod 600)",
                command=command("chmod", "600", path),
            ),
            [finding],
        )
