"""A reload never makes a (port, name) worse for a client.

A reload makes a service serve its configured files. When those (after the plan's own edits, and with the
lineages the plan issues counted as good) would be judged worse by a client than what the service serves
now — the files were replaced outside mailcert, e.g. through certbot's live/ links — the service is left
unreloaded and the plan says why: restoring mailcert's own backups could not undo such a reload.

Before: the probe's verdict per (port, name) (Endpoint.clients); without a probe, the verdict on the files
as they are. After: the same judge (lint's findings for the configured source) on the plan's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailcert.audit.lint import LintOptions, lint_host_model
from mailcert.catalogue import Where
from mailcert.checks.certs import check_chain
from mailcert.checks.files import SourceResult
from mailcert.checks.renewal_uses import lineage_of
from mailcert.checks.verdict import client_view, short
from mailcert.fix.model import Change, ChangeKind, EndpointChange, HostPlan
from mailcert.fix.plan.base import PlanState
from mailcert.fix.plan.result_lint import certbot_folders, result_files
from mailcert.model import ClientView, Endpoint, HostReport, Mode, Verdict
from mailcert.services.certbot.model import CertbotState

Key = tuple[str, int, Mode, str]  # service, port, mode, client name
_ORDER = ["postfix", "dovecot", "exim", "cpanel"]
_NAME_CHECKS = frozenset({"cert.name-mismatch", "cert.no-san"})


@dataclass(frozen=True)
class _Configured:
    """One endpoint's configured source after the plan, as lint sees it."""

    endpoint: Endpoint
    result: SourceResult


@dataclass(frozen=True)
class Held:
    """The plan without the reloads (and their services' edits) that would make a (port, name) worse."""

    changes: list[Change]
    unfixable: list[str]
    endpoints: tuple[EndpointChange, ...]


def keep_served(
    state: PlanState, changes: Sequence[Change], options: LintOptions, ignored: frozenset[str]
) -> Held:
    """Drop each reload that would make a client's verdict on one of its (port, name) worse, with why."""
    if not state.report.endpoints:
        return Held(list(changes), [], ())
    before = _before(state, options, ignored)
    reloaded = {c.service for c in changes if c.kind is ChangeKind.RELOAD and c.service}
    if not reloaded:  # nothing starts serving other files
        unchanged = tuple(EndpointChange(k[0], k[1], k[2], v, v) for k, v in _ordered(before))
        return Held(list(changes), [], unchanged)
    issued = certbot_folders(HostPlan(state.host.name, changes=tuple(changes)))
    after_report, after_model = lint_host_model(
        result_files(state.files, HostPlan(state.host.name, changes=tuple(changes))),
        name=state.host.name,
        options=options,
    )
    configured = _configured(after_report, after_model.sources)
    expected: dict[Key, ClientView] = {}
    files: dict[Key, str] = {}
    for key, was in before.items():
        if key[0] not in reloaded:
            expected[key] = was
            continue
        view, file = _after(key, configured, issued, options, ignored)
        expected[key] = view
        files[key] = file
    worse = {key for key, was in before.items() if expected[key].verdict.rank > was.verdict.rank}
    held = sorted({key[0] for key in worse}, key=lambda s: [*_ORDER, s].index(s))
    kept, unfixable = list(changes), []
    for service in held:
        keys = sorted((k for k in worse if k[0] == service), key=lambda k: (k[1], k[3]))
        unfixable.append(_why(service, keys, before, expected, files, state.certbot))
        dropped = [
            c for c in kept if c.service == service and c.kind not in (ChangeKind.ISSUE, ChangeKind.INSTALL)
        ]
        kept = [c for c in kept if c not in dropped]
        for change in dropped:
            unfixable += [
                f"{label}: waits — {service} is not reloaded (see above)" for label in change.removes
            ]
        for key in before:
            if key[0] == service:
                expected[key] = before[key]  # not reloaded: it keeps serving what it serves
    endpoints = tuple(EndpointChange(k[0], k[1], k[2], v, expected[k]) for k, v in _ordered(before))
    return Held(kept, list(dict.fromkeys(unfixable)), endpoints)


def _ordered(views: dict[Key, ClientView]) -> list[tuple[Key, ClientView]]:
    return sorted(views.items(), key=lambda kv: ([*_ORDER, kv[0][0]].index(kv[0][0]), kv[0][1], kv[0][3]))


def _before(state: PlanState, options: LintOptions, ignored: frozenset[str]) -> dict[Key, ClientView]:
    """What each (port, name) is served now: the probe's view, else the files' (no probe ran)."""
    views: dict[Key, ClientView] = {}
    probed = any(e.clients for e in state.report.endpoints)
    # endpoints the probe did not dial when it ran (advertised only by DNS) are not judged at all
    unprobed = [] if probed else list(state.report.endpoints)
    for endpoint in state.report.endpoints:
        for view in endpoint.clients:
            views[(endpoint.service, endpoint.port, endpoint.mode, view.hostname)] = view
    if unprobed:
        now_report, now_model = lint_host_model(state.files, name=state.host.name, options=options)
        configured = _configured(now_report, now_model.sources)
        for endpoint in unprobed:
            for name in endpoint.hostnames:
                key = (endpoint.service, endpoint.port, endpoint.mode, name)
                if key not in views:
                    views[key] = _after(key, configured, [], options, ignored)[0]
    return views


def _configured(report: HostReport, sources: dict[tuple[str, int], list[SourceResult]]) -> list[_Configured]:
    """Lint's endpoints paired with their source results (both in listener order per (service, port))."""
    paired: list[_Configured] = []
    seen: dict[tuple[str, int], int] = {}
    for endpoint in report.endpoints:
        at = (endpoint.service, endpoint.port)
        position = seen.get(at, 0)
        seen[at] = position + 1
        results = sources.get(at, [])
        if position < len(results):
            paired.append(_Configured(endpoint, results[position]))
    return paired


def _after(
    key: Key,
    configured: list[_Configured],
    issued: Sequence[str],
    options: LintOptions,
    ignored: frozenset[str],
) -> tuple[ClientView, str]:
    """The view of `key`'s client once the service serves its configured files; and the certificate file."""
    service, port, _, name = key
    here = [c for c in configured if (c.endpoint.service, c.endpoint.port) == (service, port)]
    chosen = next((c for c in here if name in c.endpoint.hostnames), None)
    default = next((c for c in here if not c.endpoint.by_sni), None)
    source = chosen or default
    if source is None:
        return ClientView(name, Verdict.FAILS, f"no certificate is configured for port {port}"), ""
    file = source.endpoint.configured.cert_file or ""
    if any(folder in file for folder in issued):
        return ClientView(name, Verdict.OK, f"certbot issues {file} first (checked by the re-probe)"), file
    findings = list(source.result.findings)
    chain = source.result.chain
    if chosen is None and chain:  # a name the files were not checked for: judge its names the same way
        findings = [f for f in findings if f.check not in _NAME_CHECKS]
        findings += [
            f
            for f in check_chain(chain, [name], options.checks, Where(service=service, port=port))
            if f.check in _NAME_CHECKS
        ]
    return client_view(name, findings, chain[0] if chain else None, ignored=ignored), file


def _why(
    service: str,
    keys: list[Key],
    before: dict[Key, ClientView],
    after: dict[Key, ClientView],
    files: dict[Key, str],
    certbot: CertbotState,
) -> str:
    first = keys[0]
    file = files.get(first, "") or "its configured certificate"
    where = ", ".join(f"{k[3]}:{k[1]}" for k in keys)
    found = lineage_of(certbot, file.split(", ")[0]) if file.startswith("/") else None
    if found is not None:
        todo = (
            f"renew lineage {found[0].name} (certbot renew --cert-name {found[0].name} --force-renewal) or "
            f"point {service} at a good certificate, then run fix again"
        )
    else:
        todo = f"put a good certificate in {file} or point {service} at one, then run fix again"
    return (
        f"{service}: not reloaded — it would then serve {file}, worse for clients than what it serves now on "
        f"{len(keys)} (port, name): {where}; now {short(before[first])}; after a reload "
        f"{short(after[first])}; {todo}"
    )
