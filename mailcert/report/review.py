"""`mailcert review` as text, JSON, SARIF (with `baselineState`) and a Markdown pull-request comment.

The headline is what the change introduces, worst first, each with what Outlook shows for it; what it
removes and what it leaves follow, shorter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from mailcert.audit.review import BaselineState, HostReview, Review, fingerprint, introduced_counts
from mailcert.errors import UsageError
from mailcert.model import Finding, HostReport, Report
from mailcert.report.json import JSONObject, finding_to_dict, readable_json
from mailcert.report.markdown_escape import md_code, md_text
from mailcert.report.sarif import sarif_log
from mailcert.symptoms import symptoms_for
from mailcert.wording import SEVERITY_ORDER, iso_utc, one_line, where

REVIEW_FORMATS = ("text", "json", "sarif", "markdown")
REVIEW_SCHEMA = "mailcert-review/1"


def check_review_format(fmt: str) -> str:
    name = fmt.lower()
    if name not in REVIEW_FORMATS:
        raise UsageError(
            f"review cannot render --format {fmt}", todo=f"choose one of {', '.join(REVIEW_FORMATS)}"
        )
    return name


def _worst_first(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: SEVERITY_ORDER.index(f.severity))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def headline(review: Review) -> str:
    """`introduces 1 critical, 2 warnings; removes 1; leaves 3` (what the exit code is judged by first)."""
    counts = introduced_counts(review)
    new = ", ".join(
        _plural(counts[s], s.value) if s.value in ("warning",) else f"{counts[s]} {s.value}"
        for s in SEVERITY_ORDER
        if counts.get(s)
    )
    removed = sum(len(h.removed) for h in review.hosts)
    left = sum(len(h.unchanged) for h in review.hosts)
    return f"introduces {new or 'nothing'}; removes {removed}; leaves {left}"


def place(finding: Finding) -> str:
    """`where()` plus the port when the place is a file (one setting serves several ports)."""
    text = where(finding)
    return f"{text} port {finding.port}" if finding.file and finding.port is not None else text


def client_line(finding: Finding) -> str:
    """`— Outlook: '...' [0x08]`, the symptom a reviewer recognises from the helpdesk."""
    s = symptoms_for(finding.check)
    flag = f" [{s.outlook_flag}]" if s.outlook_flag else ""
    return f"Outlook: {s.outlook}{flag}"


# -- text ----------------------------------------------------------------------------------------------


def _text_finding(finding: Finding, detail: bool) -> list[str]:
    lines = [f"    {finding.severity.value.upper():8}  {finding.check}  {one_line(place(finding))}"]
    if detail:
        lines += [
            f"      {one_line(finding.message)}",
            f"      fix: {one_line(finding.fix)}",
            f"      {one_line(client_line(finding))}",
        ]
    return lines


def render_review_text(review: Review) -> str:
    lines = [
        f"mailcert review: {one_line(review.base_label)} -> {one_line(review.head_label)}, "
        f"evaluated at {iso_utc(review.evaluated_at)}",
        "",
    ]
    for host in review.hosts:
        lines.append(f"{one_line(host.name)}: {host.status.value.upper()}")
        if host.head.error is not None:
            lines.append(f"  error: {one_line(host.head.error)}")
        for title, state, detail in (
            ("introduces", BaselineState.NEW, True),
            ("removes", BaselineState.ABSENT, False),
            ("leaves", BaselineState.UNCHANGED, False),
        ):
            found = _worst_first(host.by_state(state))
            lines.append(f"  {title} {len(found)}:" if found else f"  {title} nothing")
            for finding in found:
                lines += _text_finding(finding, detail)
        lines.append("")
    lines.append(f"summary: {review.status.value.upper()}: {headline(review)}")
    return "\n".join(lines) + "\n"


# -- JSON ----------------------------------------------------------------------------------------------


def _host_dict(host: HostReview) -> JSONObject:
    return {
        "name": host.name,
        "status": host.status.value,
        "error": host.head.error,
        "base_status": host.base.status.value,
        "head_status": host.head.status.value,
        **{
            key: [{**finding_to_dict(f), "fingerprint": fingerprint(f)} for f in host.by_state(state)]
            for key, state in (
                ("introduced", BaselineState.NEW),
                ("removed", BaselineState.ABSENT),
                ("unchanged", BaselineState.UNCHANGED),
            )
        },
    }


def render_review_json(review: Review) -> str:
    doc: JSONObject = {
        "schema": REVIEW_SCHEMA,
        "generated_at": iso_utc(review.generated_at),
        "evaluated_at": iso_utc(review.evaluated_at),
        "status": review.status.value,
        "base": review.base_label,
        "head": review.head_label,
        "hosts": [_host_dict(h) for h in review.hosts],
    }
    return readable_json(doc) + "\n"


# -- SARIF ---------------------------------------------------------------------------------------------


def review_sarif_log(review: Review, *, root_uri: str | None = None) -> JSONObject:
    """One SARIF run: head's findings (`new` / `unchanged`) and the removed ones (`absent`), each with the
    fingerprint both trees share, so code scanning annotates only what the change introduces."""
    hosts = tuple(
        HostReport(h.name, findings=tuple(r.finding for r in h.findings), error=h.head.error)
        for h in review.hosts
    )
    report = Report(generated_at=review.generated_at, evaluated_at=review.evaluated_at, hosts=hosts)
    log = sarif_log(report, root_uri=root_uri)
    runs = log["runs"]
    assert isinstance(runs, list) and isinstance(runs[0], dict)
    run = runs[0]
    results, properties = run["results"], run["properties"]
    assert isinstance(results, list) and isinstance(properties, dict)
    reviewed = [r for h in review.hosts for r in h.findings]
    for result, item in zip(results, reviewed, strict=True):
        assert isinstance(result, dict)
        result["baselineState"] = item.state.value
        result["partialFingerprints"] = {"mailcertFinding/v1": fingerprint(item.finding)}
    properties.update(status=review.status.value, base=review.base_label, head=review.head_label)
    return log


def render_review_sarif(review: Review, *, root_uri: str | None = None) -> str:
    return readable_json(review_sarif_log(review, root_uri=root_uri)) + "\n"


# -- Markdown ------------------------------------------------------------------------------------------


def _md_introduced(finding: Finding) -> str:
    return (
        f"- **{finding.severity.value.upper()}** {md_code(finding.check)} at {md_code(place(finding))}: "
        f"{md_text(finding.message)} — {md_text(client_line(finding))}  \n"
        f"  Fix: {md_text(finding.fix)}"
    )


def _md_short(finding: Finding) -> str:
    return f"- {finding.severity.value} {md_code(finding.check)} at {md_code(place(finding))}"


def render_review_markdown(review: Review) -> str:
    lines = [
        f"## mailcert review: {review.status.value.upper()}, {md_text(headline(review))}",
        "",
        f"{md_code(review.base_label)} → {md_code(review.head_label)}, evaluated at "
        f"{iso_utc(review.evaluated_at.astimezone(UTC))}.",
        "",
    ]
    for host in review.hosts:
        lines += [f"### {md_text(host.name)}", ""]
        if host.head.error is not None:
            lines += [f"Could not check the change: {md_text(host.head.error)}", ""]
        new = _worst_first(host.introduced)
        lines += [f"**Introduces {len(new)}**" if new else "Introduces nothing.", ""]
        lines += [*(_md_introduced(f) for f in new), ""] if new else []
        for title, found in (("Removes", host.removed), ("Leaves", host.unchanged)):
            if not found:
                continue
            lines += [
                "<details>",
                f"<summary>{title} {len(found)}</summary>",
                "",
                *(_md_short(f) for f in _worst_first(found)),
                "",
                "</details>",
                "",
            ]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_review(review: Review, fmt: str, *, sarif_root: str | None = None) -> str:
    name = check_review_format(fmt)
    if name == "json":
        return render_review_json(review)
    if name == "sarif":
        return render_review_sarif(review, root_uri=sarif_root)
    if name == "markdown":
        return render_review_markdown(review)
    return render_review_text(review)
