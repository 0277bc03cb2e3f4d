"""`--format html`: one self-contained page (inline CSS and SVG, no scripts, nothing fetched).

Fleet summary, per-host findings with what mail clients show and how to fix each, and an expiry timeline
of every certificate clients get (inline SVG, sorted by days left, the warn and crit thresholds marked).
The page comes from templates/report.html.j2 through Jinja2 with autoescaping on, so no value from a host
can add markup to the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2

from mailcert.errors import MailcertError
from mailcert.model import HostReport, Report
from mailcert.symptoms import symptoms_for
from mailcert.wording import (
    SEVERITY_ORDER,
    counts_phrase,
    day_utc,
    iso_utc,
    printable,
    sha256_prefix,
    status_counts,
    where,
)

TEMPLATE = "report.html.j2"
DEFAULT_WARN_DAYS = 21
DEFAULT_CRIT_DAYS = 7

# Timeline geometry (SVG user units).
LABEL_WIDTH = 300
PLOT_WIDTH = 560
ROW_HEIGHT = 22
TOP = 30


def template_dirs() -> list[Path]:
    """Where report templates are: inside the installed package (mailcert/templates), else the checkout."""
    package = Path(__file__).resolve().parent.parent
    return [package / "templates", package.parent / "templates"]


def _environment() -> jinja2.Environment:
    dirs = [d for d in template_dirs() if (d / TEMPLATE).is_file()]
    if not dirs:
        raise MailcertError(
            f"the HTML report template {TEMPLATE} is missing",
            where=" or ".join(str(d) for d in template_dirs()),
            todo="reinstall mailcert (the package ships it as mailcert/templates)",
        )
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(dirs[0])),
        autoescape=True,  # every value is text: a host's config value must never become markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class TimelineRow:
    label: str
    days: int
    not_after: str
    level: str  # "expired" | "critical" | "warning" | "ok"
    y: float
    bar_x: float
    bar_width: float


@dataclass(frozen=True)
class Timeline:
    rows: tuple[TimelineRow, ...]
    width: int
    height: int
    zero_x: float
    warn_x: float
    crit_x: float
    max_days: int
    min_days: int
    warn_days: int
    crit_days: int
    label_width: int = LABEL_WIDTH


def _level(days: int, warn_days: int, crit_days: int) -> str:
    if days < 0:
        return "expired"
    if days <= crit_days:
        return "critical"
    if days <= warn_days:
        return "warning"
    return "ok"


def expiry_timeline(
    report: Report, *, warn_days: int = DEFAULT_WARN_DAYS, crit_days: int = DEFAULT_CRIT_DAYS
) -> Timeline:
    """Every endpoint's days left (served certificate, else configured), fewest first, laid out for SVG."""
    entries: list[tuple[int, str, datetime]] = []
    for host in report.hosts:
        for endpoint in host.endpoints:
            cert = endpoint.served or endpoint.configured
            if cert.not_after is None:
                continue
            days = math.floor((cert.not_after - report.evaluated_at).total_seconds() / 86400)
            entries.append(
                (days, printable(f"{host.name} {endpoint.service}:{endpoint.port}"), cert.not_after)
            )
    entries.sort(key=lambda e: (e[0], e[1]))
    low = min([0, *(e[0] for e in entries)])
    high = max([warn_days + 10, *(e[0] for e in entries)])
    scale = PLOT_WIDTH / (high - low)

    def x(days: int) -> float:
        return round(LABEL_WIDTH + (days - low) * scale, 1)

    rows = tuple(
        TimelineRow(
            label=label,
            days=days,
            not_after=day_utc(not_after),
            level=_level(days, warn_days, crit_days),
            y=TOP + index * ROW_HEIGHT,
            bar_x=min(x(0), x(days)),
            bar_width=max(round(abs(x(days) - x(0)), 1), 2.0),
        )
        for index, (days, label, not_after) in enumerate(entries)
    )
    return Timeline(
        rows=rows,
        width=LABEL_WIDTH + PLOT_WIDTH + 80,
        height=TOP + max(len(rows), 1) * ROW_HEIGHT + 20,
        zero_x=x(0),
        warn_x=x(warn_days),
        crit_x=x(crit_days),
        max_days=high,
        min_days=low,
        warn_days=warn_days,
        crit_days=crit_days,
    )


def _host_view(host: HostReport) -> dict[str, object]:
    findings = sorted(host.findings, key=lambda f: SEVERITY_ORDER.index(f.severity))
    checks = list(dict.fromkeys(f.check for f in findings))
    return {
        "name": printable(host.name),
        "anchor": "host-" + "".join(ch if ch.isalnum() else "-" for ch in host.name),
        "status": host.status.value,
        "error": printable(host.error) if host.error else None,
        "endpoints": [
            {
                "place": f"{e.service}:{e.port}",
                "mode": e.mode.value,
                "hostnames": ", ".join(printable(n) for n in e.hostnames),
                "configured": sha256_prefix(e.configured.sha256) if e.configured.sha256 else "—",
                "served": sha256_prefix(e.served.sha256) if e.served else "—",
                "stale": e.served is not None
                and e.configured.sha256 is not None
                and e.served.sha256 != e.configured.sha256,
                "expires": day_utc((e.served or e.configured).not_after)
                if (e.served or e.configured).not_after is not None
                else "—",
            }
            for e in host.endpoints
        ],
        "findings": [
            {
                "severity": f.severity.value,
                "check": f.check,
                "where": printable(where(f)),
                "message": printable(f.message),
                "fix": printable(f.fix),
            }
            for f in findings
        ],
        "symptoms": [{"check": check, "says": symptoms_for(check)} for check in checks],
    }


def render_html(
    report: Report, *, warn_days: int = DEFAULT_WARN_DAYS, crit_days: int = DEFAULT_CRIT_DAYS
) -> str:
    """The report as one self-contained HTML page."""
    template = _environment().get_template(TEMPLATE)
    return (
        template.render(
            status=report.status.value,
            summary=counts_phrase(report),
            evaluated_at=iso_utc(report.evaluated_at),
            generated_at=iso_utc(report.generated_at),
            host_counts={s.value: n for s, n in status_counts(report.hosts).items()},
            hosts=[_host_view(h) for h in report.hosts],
            timeline=expiry_timeline(report, warn_days=warn_days, crit_days=crit_days),
        ).rstrip("\n")
        + "\n"
    )
