"""Per (port, name) a client uses: what it is served now → after (expected by the plan, or seen by the
re-probe), with the client's verdict — as text lines, Markdown rows and JSON (`endpoints_after`)."""

from __future__ import annotations

from collections.abc import Callable

from mailcert.checks.verdict import short
from mailcert.fix.model import EndpointChange, HostPlan
from mailcert.model import ClientView

_HEADING = {
    "plan": "after: expected by the plan",
    "re-probe": "after: what the re-probe saw",
    "re-probe, restored": "after: what the re-probe saw, before the change was restored",
}


def heading(plan: HostPlan) -> str:
    return f"clients per (port, name), now → {_HEADING.get(plan.endpoints_from, plan.endpoints_from)}"


def after_text(change: EndpointChange) -> str:
    if change.after == change.before:
        return "unchanged"
    return short(change.after) + (" — WORSE" if change.worse else "")


def grouped(plan: HostPlan) -> list[tuple[str, int, list[str], str, str]]:
    """(service, port, names, now, after): the names of one port that see the same now → after, together."""
    rows: dict[tuple[str, int, str, str], list[str]] = {}
    for change in plan.endpoints:
        key = (change.service, change.port, short(change.before), after_text(change))
        rows.setdefault(key, []).append(change.hostname)
    return [(service, port, names, now, after) for (service, port, now, after), names in rows.items()]


def text_lines(plan: HostPlan) -> list[str]:
    if not plan.endpoints:
        return []
    out = [f"   {heading(plan)}:"]
    for service, port, names, now, after in grouped(plan):
        out.append(f"     {service} {port} {', '.join(names)}: {now} → {after}")
    return out


def markdown_rows(plan: HostPlan, escape: Callable[[str], str]) -> list[str]:
    """A table (service, port, names, now, after); `escape` makes a cell's text safe."""
    if not plan.endpoints:
        return []
    out = [
        f"{escape(heading(plan))}:",
        "",
        "| service | port | names | now | after |",
        "|---|---|---|---|---|",
    ]
    for service, port, names, now, after in grouped(plan):
        cells = [service, str(port), ", ".join(names), now, after]
        out.append("| " + " | ".join(escape(c) for c in cells) + " |")
    out.append("")
    return out


def view_entry(view: ClientView) -> dict[str, object]:
    return {
        "verdict": view.verdict.value,
        "reason": view.reason,
        "subject": view.subject,
        "sans": list(view.sans),
        "not_after": view.not_after,
        "sha256": view.sha256,
    }


def json_entries(plan: HostPlan) -> list[dict[str, object]]:
    """The host's `endpoints_after`: one entry per (port, name) with both views and whether it got worse."""
    return [
        {
            "service": change.service,
            "port": change.port,
            "mode": change.mode.value,
            "hostname": change.hostname,
            "before": view_entry(change.before),
            "after": view_entry(change.after),
            "after_from": plan.endpoints_from,
            "worse": change.worse,
        }
        for change in plan.endpoints
    ]
