"""Pre-change review: what a change to a host's configuration introduces, removes and leaves.

Both trees are linted the same way (`lint_host`); their findings are matched by what they are — check,
severity, service, port, hostname, file and message — and, among equals, by line. A finding that only moved
(an unrelated edit shifted the lines above it) is unchanged, never new. The words are SARIF's
`baselineState`: new, unchanged, absent.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.facts import HostFiles
from mailcert.model import Finding, HostReport, Severity, Status, severity_status, worst_status

_LINE_MENTION = re.compile(r"(\bline |:)\d+\b")


class BaselineState(enum.StrEnum):
    NEW = "new"  # the change introduces it
    UNCHANGED = "unchanged"  # there before and after
    ABSENT = "absent"  # the change removes it


@dataclass(frozen=True)
class ReviewedFinding:
    finding: Finding
    state: BaselineState


@dataclass(frozen=True)
class HostReview:
    """One tree before (base) and after (head) a change, and its findings by what the change does to them."""

    name: str
    base: HostReport
    head: HostReport
    findings: tuple[ReviewedFinding, ...]  # head's findings (new, unchanged), then removed ones (absent)

    def by_state(self, state: BaselineState) -> list[Finding]:
        return [r.finding for r in self.findings if r.state is state]

    @property
    def introduced(self) -> list[Finding]:
        return self.by_state(BaselineState.NEW)

    @property
    def removed(self) -> list[Finding]:
        return self.by_state(BaselineState.ABSENT)

    @property
    def unchanged(self) -> list[Finding]:
        return self.by_state(BaselineState.UNCHANGED)

    @property
    def status(self) -> Status:
        """By what the change introduces (SPEC's exit codes by severity); unknown when head could not be checked."""
        if self.head.error is not None:
            return Status.UNKNOWN
        return worst_status(severity_status(f.severity) for f in self.introduced)


@dataclass(frozen=True)
class Review:
    generated_at: datetime
    evaluated_at: datetime
    base_label: str  # e.g. "hosts/mx1 at 3f9a1c2" or a folder
    head_label: str
    hosts: tuple[HostReview, ...]

    @property
    def status(self) -> Status:
        return worst_status(h.status for h in self.hosts)


def finding_identity(finding: Finding) -> tuple[str, ...]:
    """What a finding is, without where its line happens to be: stable across unrelated line shifts."""
    return (
        finding.check,
        finding.severity.value,
        finding.service or "",
        "" if finding.port is None else str(finding.port),
        finding.hostname or "",
        finding.file or "",
        _LINE_MENTION.sub(r"\1#", finding.message),
    )


def fingerprint(finding: Finding) -> str:
    """A hex digest of `finding_identity` (SARIF partialFingerprints), the same in both trees."""
    return hashlib.sha256("\x1f".join(finding_identity(finding)).encode()).hexdigest()


def compare(base: Sequence[Finding], head: Sequence[Finding]) -> tuple[ReviewedFinding, ...]:
    """Head's findings marked new or unchanged, then base's unmatched ones marked absent.

    Pairs are made in passes, most certain first: the same finding at the same line; the same finding
    anywhere in its file (the lines above it moved); the same check at the same place, reworded (a path it
    mentions changed, as when a key.mismatch names the new certificate). What is left in head is new.
    """
    passes: tuple[tuple[Callable[[Finding], tuple[object, ...]], bool], ...] = (
        (lambda f: (*finding_identity(f), f.line), False),
        (finding_identity, False),
        (lambda f: (*finding_identity(f)[:-1], f.line), True),
    )
    paired: dict[int, Finding] = {}  # id(head finding) -> its base finding
    used: set[int] = set()
    for key_of, needs_line in passes:
        pending: dict[tuple[object, ...], list[Finding]] = defaultdict(list)
        for finding in base:
            if id(finding) not in used and (finding.line is not None or not needs_line):
                pending[key_of(finding)].append(finding)
        for finding in head:
            if id(finding) in paired or (needs_line and finding.line is None):
                continue
            candidates = pending.get(key_of(finding))
            if candidates:
                match = candidates.pop(0)
                paired[id(finding)] = match
                used.add(id(match))
    out = [
        ReviewedFinding(f, BaselineState.UNCHANGED if id(f) in paired else BaselineState.NEW) for f in head
    ]
    out += [ReviewedFinding(f, BaselineState.ABSENT) for f in base if id(f) not in used]
    return tuple(out)


def review_host(
    base: HostFiles | None,
    head: HostFiles | None,
    *,
    name: str,
    options: LintOptions,
    notes: tuple[Sequence[Finding], Sequence[Finding]] = ((), ()),
) -> HostReview:
    """Lint both trees (None: the tree does not exist on that side, as for a host added or removed).
    `notes`: findings about each tree from before lint (templates that could not be rendered)."""
    reports = []
    for files, extra in zip((base, head), notes, strict=True):
        report = lint_host(files, name=name, options=options) if files is not None else HostReport(name)
        reports.append(replace(report, findings=(*extra, *report.findings)) if extra else report)
    base_report, head_report = reports
    return HostReview(
        name=name,
        base=base_report,
        head=head_report,
        findings=compare(base_report.findings, head_report.findings),
    )


def introduced_counts(review: Review) -> dict[Severity, int]:
    counts: dict[Severity, int] = defaultdict(int)
    for host in review.hosts:
        for finding in host.introduced:
            counts[finding.severity] += 1
    return dict(counts)
