"""verify's text output: one line per problem, `host service:port check — message; fix: ...`.

Cron mails whatever a job prints, so a healthy fleet prints nothing and every line must say on its own
what is wrong and what to do. Info findings are not problems.
"""

from __future__ import annotations

from mailcert.model import Finding, Report, Severity
from mailcert.wording import SEVERITY_ORDER, printable


def _one_line(text: str) -> str:
    return " ".join(printable(text).split())


def _place(finding: Finding) -> str | None:
    if finding.port is not None:
        return f"{finding.service}:{finding.port}" if finding.service else f"port {finding.port}"
    if finding.service:
        return finding.service
    if finding.file:
        return f"{finding.file}:{finding.line}" if finding.line is not None else finding.file
    return None


def problem_line(host: str, finding: Finding) -> str:
    """`mx1 dovecot:993 tls.stale — message; fix: what to do` (the place is left out for host-wide checks)."""
    place = _place(finding)
    head = " ".join(_one_line(part) for part in (host, place, finding.check) if part)
    line = f"{head} — {_one_line(finding.message)}"
    fix = _one_line(finding.fix)
    return f"{line}; fix: {fix}" if fix else line


def problem_lines(report: Report) -> list[str]:
    """Every problem of the run: hosts in report order, most severe first within a host."""
    lines: list[str] = []
    for host in report.hosts:
        problems = [f for f in host.findings if f.severity is not Severity.INFO]
        problems.sort(key=lambda f: SEVERITY_ORDER.index(f.severity))
        lines += [problem_line(host.name, f) for f in problems]
        if host.error is not None and not any(f.check == "host.unreachable" for f in problems):
            lines.append(f"{_one_line(host.name)} host.unreachable — {_one_line(host.error)}")
    return lines


def render_problems(report: Report) -> str:
    """The cron output: empty when all is well, else the problem lines ending in a newline."""
    lines = problem_lines(report)
    return "\n".join(lines) + "\n" if lines else ""
