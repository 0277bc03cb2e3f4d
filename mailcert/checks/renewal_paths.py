"""renewal.unmanaged-path and renewal.lineage-superseded: service paths that renewals never reach."""

from __future__ import annotations

from collections.abc import Sequence

from mailcert.checks.renewal_fixes import reload_command, repoint_fix, use_unit
from mailcert.checks.renewal_uses import CertUse, copied_from, finding, grouped, lineage_of, where
from mailcert.model import Finding
from mailcert.quoting import shell_command
from mailcert.services.certbot.model import CertbotState, Lineage
from mailcert.services.certbot.parser import lineage_file_role, when

# -- renewal.unmanaged-path ---------------------------------------------------------------------------------


def unmanaged_paths(state: CertbotState, uses: Sequence[CertUse]) -> list[Finding]:
    findings: list[Finding] = []
    hooks = [*state.hooks, *(h for lineage in state.lineages for h in lineage.hooks)]
    hook_texts = [h.text or "" for h in hooks if h.runs]
    for group in grouped(uses):
        use = group[0]
        for path, is_key in ((use.cert_path, False), (use.key_path, True)):
            found = lineage_of(state, path) if path else None
            if path and found is not None and found[1] == "archive":
                findings.append(_archive_finding(found[0], use, group, path, is_key))
        if lineage_of(state, use.cert_path) is not None:
            continue
        resolved = use.cert_resolved and lineage_of(state, use.cert_resolved)
        copied = copied_from(state, use.leaf_der)
        if resolved and resolved[1] == "archive" and copied and copied[1] is not None:
            findings.append(
                _archive_finding(resolved[0], use, group, use.cert_path, False, via=use.cert_resolved)
            )
        elif not resolved and copied and not any(use.cert_path in text for text in hook_texts):
            findings.append(_copy_finding(copied[0], copied[1], use, group))
    return findings


def _archive_finding(
    lineage: Lineage, use: CertUse, group: list[CertUse], path: str, is_key: bool, via: str | None = None
) -> Finding:
    role = lineage_file_role(via or path) or ("privkey" if is_key else "fullchain")
    is_key = is_key or role == "privkey"  # Postfix chain_files list the key among the certificate files
    target = f"{lineage.live_dir}/{'fullchain' if role == 'cert' else role}.pem"
    link = f" (a symlink to {via})" if via else ""
    message = (
        f"{where(group)} {use.setting} uses {path}{link} inside certbot's archive/ of lineage {lineage.name}: "
        f"renewals write a new numbered file and move live/{lineage.name}/ to it, so {use.service} keeps this "
        f"one until it expires (lineage's current certificate expires {when(lineage.not_after)})"
    )
    return finding("renewal.unmanaged-path", message, repoint_fix(use, target, is_key), group)


def _copy_finding(lineage: Lineage, version: int | None, use: CertUse, group: list[CertUse]) -> Finding:
    stale = ""
    if version is not None:
        stale = f" (cert{version}.pem; it is already stale: the lineage's current certificate expires {when(lineage.not_after)})"
    message = (
        f"{where(group)} {use.setting} uses {use.cert_path}, a copy of certbot lineage {lineage.name}'s "
        f"certificate{stale}; certbot renews live/{lineage.name}/ and never updates this copy"
    )
    fix = repoint_fix(
        use, f"{lineage.live_dir}/fullchain.pem", False, key_target=f"{lineage.live_dir}/privkey.pem"
    )
    return finding("renewal.unmanaged-path", message, fix, group)


# -- renewal.lineage-superseded -------------------------------------------------------------------------------


def superseded_lineages(
    state: CertbotState, used: dict[str, list[CertUse]], uses: Sequence[CertUse]
) -> list[Finding]:
    copies: dict[str, list[CertUse]] = {}
    for use in uses:
        copied = copied_from(state, use.leaf_der)
        if copied and copied[0].name not in used:
            copies.setdefault(copied[0].name, []).append(use)
    users = {name: [*used.get(name, []), *copies.get(name, [])] for name in {*used, *copies}}
    families: dict[str, list[Lineage]] = {}
    for lineage in state.lineages:
        families.setdefault(lineage.base_name, []).append(lineage)
    findings: list[Finding] = []
    for family in families.values():
        if len(family) < 2:
            continue
        newest = max(family, key=_age_key)
        if users.get(newest.name):
            continue
        for old in family:
            if old is newest or not users.get(old.name) or _age_key(old) >= _age_key(newest):
                continue
            message = (
                f"newer certbot lineage {newest.name} (names: {', '.join(newest.names) or 'unknown'}; expires "
                f"{when(newest.not_after)}) is not used by any service; {where(users[old.name])} still use "
                f"lineage {old.name} (names: {', '.join(old.names) or 'unknown'}), which expires {when(old.not_after)}"
            )
            fix = (
                f"point the services at {newest.live_dir}/fullchain.pem and {newest.live_dir}/privkey.pem "
                f"and reload them ({reload_command(sorted({use_unit(u) for u in users[old.name]}), False)}); "
                f"once nothing uses {old.name}, `{shell_command('certbot', 'delete', '--cert-name', old.name)}` "
                "stops its renewals"
            )
            findings.append(
                finding("renewal.lineage-superseded", message, fix, users[old.name], old.renewal_conf)
            )
    return findings


def _age_key(lineage: Lineage) -> tuple[float, int]:
    """Newer = issued later; NAME-0001 over NAME when the dates cannot tell."""
    return (lineage.not_before.timestamp() if lineage.not_before else 0.0, lineage.sequence)
