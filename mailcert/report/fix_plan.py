"""A plan shown to people and programs: text (unified diffs, commands), JSON `plan` entries, Markdown.

JSON entries (SPEC's `plan` section) are one per planned change: host, kind, description, service,
removes, path + diff (file changes) or command, outcome, error. Findings no change removes come as
kind "unfixable" entries (outcome "skipped") and a host that could not be planned as kind "error".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mailcert.fix.model import Change, HostPlan
from mailcert.model import Report
from mailcert.quoting import shown
from mailcert.report.fix_endpoints import json_entries, markdown_rows, text_lines
from mailcert.report.markdown_escape import md_code, md_fence, md_text

_MAX_DIFF = 200_000


def plan_entries(plans: Sequence[HostPlan]) -> list[dict[str, object]]:
    """The JSON report's `plan` list."""
    entries: list[dict[str, object]] = []
    for plan in plans:
        if plan.error:
            entries.append(
                {"host": plan.host, "kind": "error", "description": plan.error, "outcome": "failed"}
            )
        for change in plan.changes:
            entries.append(_entry(plan, change))
        for reason in plan.unfixable:
            entries.append(
                {"host": plan.host, "kind": "unfixable", "description": reason, "outcome": "skipped"}
            )
    return entries


def _entry(plan: HostPlan, change: Change) -> dict[str, object]:
    entry: dict[str, object] = {
        "host": plan.host,
        "kind": change.kind.value,
        "description": change.description,
        "service": change.service,
        "removes": list(change.removes),
        "outcome": change.outcome.value,
    }
    if change.file is not None:
        entry["path"] = change.file.path
        entry["diff"] = change.file.diff[:_MAX_DIFF]
        if change.file.mode is not None:
            entry["mode"] = f"{change.file.mode:04o}"
    if change.command is not None:
        entry["command"] = change.command.shown()
    if change.error:
        entry["error"] = change.error
    return entry


def with_endpoints_after(report: Report, plans: Sequence[HostPlan]) -> Report:
    """The report whose planned hosts carry `endpoints_after` (contract-additions), which the JSON report
    writes and `report merge` reads back."""
    by_host = {plan.host: plan for plan in plans}
    hosts = tuple(
        replace(host, endpoints_after=tuple(json_entries(by_host[host.name])))
        if host.name in by_host
        else host
        for host in report.hosts
    )
    return replace(report, hosts=hosts)


def render_text(plans: Sequence[HostPlan]) -> str:
    """The plan as the terminal shows it before asking: per host, each step, its diff or command. Every value
    from a host goes through `shown` (one line each; a diff line by line), so a newline or a terminal control
    in a config or a certificate cannot forge a line of the plan or drive the terminal."""
    out: list[str] = []
    for plan in plans:
        out.append(f"== {shown(plan.host)}: {_summary(plan)}")
        if plan.error:
            out.append(f"   error: {shown(plan.error)}")
        for number, change in enumerate(plan.changes, start=1):
            outcome = "" if change.outcome.value == "planned" else f" [{change.outcome.value}]"
            out.append(f"{number:>3}. {change.kind.value}: {shown(change.description)}{outcome}")
            if change.removes:
                out.append(f"     removes: {shown(', '.join(change.removes))}")
            if change.command is not None:
                out.append(f"     $ {shown(change.command.shown())}")
            if change.file is not None:
                out += ["     " + shown(line) for line in change.file.diff.rstrip("\n").split("\n")]
            if change.error:
                out.append(f"     error: {shown(change.error)}")
        if plan.validations:
            out.append(
                "   checked before reloading: " + shown("; ".join(c.shown() for c in plan.validations))
            )
        for reason in plan.unfixable:
            out.append(f"   not fixed: {shown(reason)}")
        out += text_lines(plan)
        out.append("")
    return "\n".join(out)


def render_markdown(plans: Sequence[HostPlan]) -> str:
    """For a pull-request comment: a table of steps per host, the diffs collapsed in <details>."""
    out = ["## mailcert fix plan", ""]
    for plan in plans:
        out.append(f"### {_md(plan.host)} — {_summary(plan)}")
        out.append("")
        if plan.error:
            out += [f"**Error:** {_md(plan.error)}", ""]
        if plan.changes:
            out += ["| # | step | what | removes |", "|---|---|---|---|"]
            for number, change in enumerate(plan.changes, start=1):
                what = _md(change.description)
                if change.command is not None:
                    what += f"<br>{md_code(change.command.shown())}"
                out.append(f"| {number} | {change.kind.value} | {what} | {_md(', '.join(change.removes))} |")
            out.append("")
            diffs = [c for c in plan.changes if c.file is not None]
            if diffs:
                out += [
                    "<details><summary>diffs ({} file{})</summary>".format(
                        len(diffs), "" if len(diffs) == 1 else "s"
                    ),
                    "",
                ]
                for change in diffs:
                    assert change.file is not None
                    out += [
                        md_code(change.file.path),
                        "",
                        *md_fence(change.file.diff.rstrip("\n"), "diff"),
                        "",
                    ]
                out += ["</details>", ""]
        if plan.unfixable:
            out.append("Not fixed automatically:")
            out += [f"- {_md(reason)}" for reason in plan.unfixable]
            out.append("")
        out += markdown_rows(plan, _md)
    return "\n".join(out)


def _summary(plan: HostPlan) -> str:
    if plan.error and not plan.changes:
        return "not planned"
    if plan.empty:
        return "nothing to do" + (
            f" ({len(plan.unfixable)} finding(s) need a person)" if plan.unfixable else ""
        )
    return f"{len(plan.changes)} step{'s' if len(plan.changes) != 1 else ''}"


def _md(text: str) -> str:
    return md_text(text)
