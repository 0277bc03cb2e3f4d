"""The pull-request comment (`--format markdown`): a status title, a table per host, fixes, client symptoms.

Values from hosts are escaped for GitHub-flavoured Markdown: a config value cannot break a table, open a
link or inject HTML into the comment.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailcert.model import Finding, HostReport, Report
from mailcert.report.markdown_escape import md_code, md_fence, md_text
from mailcert.symptoms import symptoms_for
from mailcert.wording import (
    SEVERITY_ORDER,
    counts_phrase,
    grouped_findings,
    iso_utc,
    where,
)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _ordered(host: HostReport) -> list[Finding]:
    """Most severe first (a reviewer reads the top rows); by service and port within a severity."""
    grouped = [finding for _title, findings in grouped_findings(host) for finding in findings]
    return sorted(grouped, key=lambda f: SEVERITY_ORDER.index(f.severity))


def _findings_table(findings: Sequence[Finding]) -> list[str]:
    lines = [_row(["severity", "check", "where", "message"]), _row(["---"] * 4)]
    for f in findings:
        lines.append(
            _row([f"**{f.severity.value.upper()}**", md_code(f.check), md_code(where(f)), md_text(f.message)])
        )
    return lines


def _fixes(findings: Sequence[Finding]) -> list[str]:
    return [
        "**Fixes**",
        "",
        *(f"- {md_code(f.check)} at {md_code(where(f))}: {md_text(f.fix)}" for f in findings),
    ]


def _symptoms(host: HostReport, findings: Sequence[Finding]) -> list[str]:
    checks = list(dict.fromkeys(f.check for f in findings))
    lines = [
        "<details>",
        f"<summary>What mail clients show ({md_text(host.name)})</summary>",
        "",
        _row(["check", "Outlook", "Apple Mail", "Thunderbird", "Android"]),
        _row(["---"] * 5),
    ]
    for check in checks:
        s = symptoms_for(check)
        outlook = md_text(s.outlook) + (f" (flag {md_code(s.outlook_flag)})" if s.outlook_flag else "")
        lines.append(
            _row([md_code(check), outlook, md_text(s.apple), md_text(s.thunderbird), md_text(s.android)])
        )
    return [*lines, "", "</details>"]


def _host(host: HostReport) -> list[str]:
    lines = [f"### {md_text(host.name)}: {host.status.value.upper()}", ""]
    if host.error is not None:
        lines += [f"Could not check this host: {md_text(host.error)}", ""]
    findings = _ordered(host)
    if not findings:
        return [*lines, "No problems found." if host.error is None else "No findings.", ""]
    return [*lines, *_findings_table(findings), "", *_fixes(findings), "", *_symptoms(host, findings), ""]


def _plan(plan: Sequence[dict[str, object]]) -> list[str]:
    lines = ["### Plan", ""]
    if not plan:
        return [*lines, "Nothing to change.", ""]
    for change in plan:
        head = " ".join(md_text(str(change[k])) for k in ("host", "kind") if change.get(k) is not None)
        if change.get("outcome") is not None:
            head += f": {md_text(str(change['outcome']))}"
        lines += [f"- {head or 'change'}", ""]
        if change.get("description"):
            lines += [f"  {md_text(str(change['description']))}", ""]
        if change.get("command"):
            lines += [*(f"  {line}" for line in md_fence(str(change["command"]), "sh")), ""]
        if change.get("diff"):
            lines += [*(f"  {line}" for line in md_fence(str(change["diff"]), "diff")), ""]
    return lines


def render_markdown(report: Report) -> str:
    """The report as a Markdown pull-request comment."""
    lines = [
        f"## mailcert: {report.status.value.upper()}, {counts_phrase(report)}",
        "",
        f"Evaluated at {iso_utc(report.evaluated_at)}.",
        "",
    ]
    for host in report.hosts:
        lines += _host(host)
    if report.plan is not None:
        lines += _plan(report.plan)
    return "\n".join(lines).rstrip("\n") + "\n"
