"""The terminal report (`--format text`): per host a status header, endpoints, findings by service and port.

ANSI colour only when asked (the caller passes `sys.stdout.isatty()`); every value from a host goes through
`one_line` (mailcert.quoting.shown), so a hostile config value or certificate name cannot move the cursor,
recolour the terminal, reorder a line (bidi controls) or start a line of its own (newline); only plan diffs
and commands keep their own lines, each line escaped and indented under its entry.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from mailcert.model import Endpoint, Finding, HostReport, Report, Severity, Status
from mailcert.symptoms import symptoms_for
from mailcert.wording import (
    counts_phrase,
    day_utc,
    grouped_findings,
    iso_utc,
    one_line,
    printable,
    sha256_prefix,
)

WIDTH = 100

_RESET = "\x1b[0m"
_SGR: dict[str, str] = {
    Severity.CRITICAL.value: "\x1b[1;31m",  # bold red
    Severity.WARNING.value: "\x1b[33m",  # yellow
    Severity.UNKNOWN.value: "\x1b[35m",  # magenta
    Severity.INFO.value: "\x1b[36m",  # cyan
    Status.OK.value: "\x1b[32m",  # green
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
}


class _Paint:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        return f"{_SGR[style]}{text}{_RESET}" if self.color else text


def _wrapped(text: str, indent: str) -> list[str]:
    """One paragraph wrapped at WIDTH: a newline inside `text` is shown as \\n, never a line break."""
    return textwrap.wrap(
        one_line(text),
        width=WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def _table(rows: Sequence[Sequence[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]


def _cert_cell(sha256: str | None, not_after_day: str | None) -> str:
    """`2027-01-31 1a2b3c4d5e6f`: expiry date and sha256 prefix, `?` for what is not known."""
    if sha256 is None and not_after_day is None:
        return "-"
    return f"{not_after_day or '?'} {sha256_prefix(sha256) if sha256 else '?'}"


def _endpoint_row(endpoint: Endpoint) -> list[str]:
    configured = endpoint.configured
    configured_cell = _cert_cell(
        configured.sha256, day_utc(configured.not_after) if configured.not_after else None
    )
    served = endpoint.served
    if served is None:
        served_cell = "not probed"
    else:
        same = configured.sha256 is not None and sha256_prefix(configured.sha256, 64) == sha256_prefix(
            served.sha256, 64
        )
        cert = "= configured" if same else _cert_cell(served.sha256, day_utc(served.not_after))
        served_cell = one_line(f"{cert} {served.tls_version} chain {served.chain_length}")
    return [
        one_line(endpoint.service),
        str(endpoint.port),
        endpoint.mode.value,
        one_line(", ".join(endpoint.hostnames)) or "-",
        configured_cell,
        served_cell,
    ]


def _endpoints(host: HostReport) -> list[str]:
    header = ["SERVICE", "PORT", "MODE", "HOSTNAMES", "CONFIGURED (EXPIRES SHA256)", "SERVED"]
    return ["  endpoints:", *_table([header, *(_endpoint_row(e) for e in host.endpoints)], "    ")]


def _symptoms_line(check: str) -> str:
    s = symptoms_for(check)
    flag = f" [{s.outlook_flag}]" if s.outlook_flag else ""
    if s.outlook == s.apple == s.thunderbird:
        return f"clients: {s.outlook}{flag}"
    return f"clients: Outlook: {s.outlook}{flag} | Apple: {s.apple} | Thunderbird: {s.thunderbird}"


def _finding(finding: Finding, paint: _Paint) -> list[str]:
    label = paint(finding.severity.value.upper().ljust(8), finding.severity.value)
    place = [finding.file + (f":{finding.line}" if finding.line is not None else "")] if finding.file else []
    if finding.hostname:
        place.append(f"({finding.hostname})" if place else finding.hostname)
    head = f"    {label}  {paint(finding.check, 'bold')}"
    if place:
        head += "  " + one_line(" ".join(place))
    return [
        head,
        *_wrapped(finding.message, "      "),
        *_wrapped(f"fix: {finding.fix}", "      "),
        *(paint(line, "dim") for line in _wrapped(_symptoms_line(finding.check), "      ")),
    ]


def _host(host: HostReport, paint: _Paint) -> list[str]:
    status = host.status
    lines = [f"{paint(one_line(host.name), 'bold')}: {paint(status.value.upper(), status.value)}"]
    if host.error is not None:
        lines += _wrapped(f"error: {host.error}", "  ")
    if host.endpoints:
        lines += _endpoints(host)
    for title, findings in grouped_findings(host):
        lines.append(f"  {one_line(title)}:")
        for finding in findings:
            lines += _finding(finding, paint)
    if not host.findings and host.error is None:
        lines.append("  no problems found")
    return lines


def _plan(plan: Sequence[dict[str, object]]) -> list[str]:
    lines = ["plan:"]
    if not plan:
        lines.append("  nothing to change")
    for change in plan:
        head = " ".join(str(change[k]) for k in ("host", "kind") if change.get(k) is not None)
        if change.get("outcome") is not None:
            head += f": {change['outcome']}"
        lines += _wrapped(head or "change", "  ")
        if change.get("description"):
            lines += _wrapped(str(change["description"]), "    ")
        if change.get("command"):  # one line: a newline in a host value is shown, not obeyed
            lines.append(f"    {one_line(str(change['command']))}".rstrip())
        if change.get("diff"):  # a diff is lines of the file: each escaped, indented under its entry
            lines += [f"    {printable(line)}".rstrip() for line in str(change["diff"]).splitlines()]
    return lines


def render_text(report: Report, *, color: bool = False) -> str:
    """The report for a terminal (or a cron mail); ANSI colour only with `color=True`."""
    paint = _Paint(color)
    lines = [f"mailcert report, evaluated at {iso_utc(report.evaluated_at)}", ""]
    for host in report.hosts:
        lines += [*_host(host, paint), ""]
    if report.plan is not None:
        lines += [*_plan(report.plan), ""]
    status = report.status
    lines.append(f"summary: {paint(status.value.upper(), status.value)}: {counts_phrase(report)}")
    return "\n".join(lines) + "\n"
