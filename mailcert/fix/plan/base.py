"""The planner's working state: the host's facts, the edits collected per file, the findings covered.

Edits are collected against the files as read (line numbers from the parsers) and applied per file from
the bottom up, so each keeps its line; a file yields one EDIT change with every finding its edits remove.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mailcert.audit.lint import HostModel
from mailcert.errors import MailcertError
from mailcert.facts import HostFiles
from mailcert.fix.model import Change, ChangeKind, Command, FileChange
from mailcert.fix.roles import RoleSet
from mailcert.inventory.model import InventoryHost
from mailcert.model import Finding, HostReport, Severity
from mailcert.services.certbot.model import CertbotState
from mailcert.services.model import CertSource, Listener

PROBLEMS = (Severity.CRITICAL, Severity.WARNING)


def label(finding: Finding) -> str:
    """How a change names a finding it removes: `check service:port` (parts left out when unknown)."""
    where = finding.service or ""
    if finding.port is not None:
        where += f":{finding.port}"
    return f"{finding.check} {where}".strip()


@dataclass(frozen=True)
class SourceUse:
    """One certificate source of one listener, with the findings lint decided for it."""

    listener: Listener
    source: CertSource
    findings: tuple[Finding, ...]
    sni: bool = False


@dataclass
class _Edit:
    anchor: int  # line the edit works at; appends use a line past the end
    key: tuple[object, ...]
    description: str
    apply: Callable[[str], str]
    removes: list[Finding]


@dataclass
class PlanState:
    host: InventoryHost
    files: HostFiles
    model: HostModel
    report: HostReport
    certbot: CertbotState
    roles: RoleSet
    now: datetime
    systemd: bool
    units: Mapping[str, object] = field(default_factory=dict)  # gathered systemd units (empty: not known)
    edits: dict[str, list[_Edit]] = field(default_factory=dict)
    edit_service: dict[str, str] = field(default_factory=dict)
    changes: list[Change] = field(
        default_factory=list
    )  # ISSUE, CREATE, COMMAND, RELOAD (EDITs come from edits)
    covered: set[Finding] = field(default_factory=set)
    unfixable: list[str] = field(default_factory=list)
    reload: dict[str, list[Finding]] = field(default_factory=dict)  # service → findings its reload removes
    install_certbot: bool = False  # --install-certbot: a host without certbot gets it installed first

    # -- findings --------------------------------------------------------------------------------------------
    def problems(self) -> list[Finding]:
        return [f for f in self.report.findings if f.severity in PROBLEMS]

    def in_report(self, findings: Iterable[Finding]) -> list[Finding]:
        """The report's findings that stand for these (lint merges ports into the message)."""
        wanted = list(findings)
        out: list[Finding] = []
        for r in self.report.findings:
            for f in wanted:
                if (r.check, r.service, r.file, r.line) == (f.check, f.service, f.file, f.line) and (
                    r.message == f.message or r.message.startswith(f.message)
                ):
                    out.append(r)
                    break
        return out

    def cover(self, findings: Iterable[Finding]) -> list[Finding]:
        found = [f for f in findings if f not in self.covered]
        self.covered.update(found)
        return found

    def source_uses(self) -> list[SourceUse]:
        """Every certificate source of every TLS listener, paired with lint's findings for it."""
        uses: list[SourceUse] = []
        for service in self.model.services:
            for listener in service.listeners:
                results = self.model.sources.get((listener.service, listener.port), [])
                sources = [(s, False) for s in listener.certificates] + [
                    (sni.source, True) for sni in listener.sni
                ]
                for (source, sni), result in zip(sources, results, strict=False):
                    uses.append(SourceUse(listener, source, tuple(self.in_report(result.findings)), sni))
        return uses

    # -- edits ------------------------------------------------------------------------------------------------
    def text(self, path: str) -> str:
        read = self.files.read_config(path)
        if read.text is None:
            raise MailcertError(f"cannot edit {path}: {read.error}", where=self.host.name)
        return read.text

    def line(self, path: str, number: int) -> str:
        """One physical line of a config file as the audit read it."""
        lines = self.text(path).split("\n")
        if not 1 <= number <= len(lines):
            raise MailcertError(
                f"{path} has no line {number}: the file changed since the audit",
                where=self.host.name,
                todo="run the audit (and fix) again",
            )
        return lines[number - 1]

    def edit(
        self,
        path: str,
        service: str,
        anchor: int | None,
        key: tuple[object, ...],
        description: str,
        apply: Callable[[str], str],
        removes: Sequence[Finding] = (),
    ) -> bool:
        """Queue one edit of `path`; an edit with the same key is queued once (its findings are merged)."""
        edits = self.edits.setdefault(path, [])
        self.edit_service.setdefault(path, service)
        for existing in edits:
            if existing.key == key:
                existing.removes += [f for f in removes if f not in existing.removes]
                self.covered.update(removes)
                return False
        edits.append(_Edit(anchor if anchor is not None else 10**9, key, description, apply, list(removes)))
        self.covered.update(removes)
        return True

    def edit_changes(self) -> list[Change]:
        changes: list[Change] = []
        for path, edits in self.edits.items():
            before = self.text(path)
            after = before
            for edit in sorted(edits, key=lambda e: e.anchor, reverse=True):
                after = edit.apply(after)
            if after == before:
                continue
            removes = [f for e in edits for f in e.removes]
            service = self.edit_service[path]
            # A config named through a link is written where the link leads now; the host checks it still does.
            real = self.files.stat(path).resolved or path
            link = f" ({path} is a link to {real}; the edit writes there)" if real != path else ""
            changes.append(
                Change(
                    kind=ChangeKind.EDIT,
                    description=f"{path}: "
                    + _joined([e.description for e in sorted(edits, key=lambda e: e.anchor)])
                    + link,
                    removes=tuple(dict.fromkeys(label(f) for f in removes)),
                    file=FileChange(path=real, before=before, after=after, link=path if link else None),
                    service=service,
                )
            )
            self.reload.setdefault(service, [])
        return changes

    # -- other changes -----------------------------------------------------------------------------------------
    def add(self, change: Change, removes: Sequence[Finding] = ()) -> None:
        """Queue a change; the same step (kind, command, file) queued twice is one step removing both sets."""
        self.covered.update(removes)
        labels = tuple(dict.fromkeys([*change.removes, *(label(f) for f in removes)]))
        for index, existing in enumerate(self.changes):
            if (existing.kind, existing.command, existing.file) == (change.kind, change.command, change.file):
                merged = tuple(dict.fromkeys([*existing.removes, *labels]))
                self.changes[index] = dataclasses.replace(existing, removes=merged)
                return
        self.changes.append(dataclasses.replace(change, removes=labels))

    def reload_argv(self, service: str) -> tuple[str, ...]:
        """How this host reloads `service` (its role.yml): through systemd when systemd runs the service, with
        the command for the unit the host has (RHEL's exim.service, Debian's exim4), else the daemon's own."""
        role = self.roles.role(service)
        systemd = any(unit in self.units for unit in role.systemd_units) or (not self.units and self.systemd)
        return role.reload_argv(systemd, role.host_unit(self.files, self.units))

    def reload_service(self, service: str, removes: Sequence[Finding] = ()) -> None:
        self.covered.update(removes)
        self.reload.setdefault(service, []).extend(removes)

    def cannot(self, reason: str, findings: Sequence[Finding] = ()) -> None:
        """Record why these findings stay (each listed once), or a reason on its own."""
        if not findings:
            if reason not in self.unfixable:
                self.unfixable.append(reason)
            return
        for finding in findings:
            if finding in self.covered:
                continue
            self.covered.add(finding)
            self.unfixable.append(f"{label(finding)}: {reason}")


def _joined(descriptions: list[str]) -> str:
    """Edit descriptions joined; a reason they all share, `(...)` at the end, is said once."""
    unique = list(dict.fromkeys(descriptions))
    if len(unique) > 1 and all(d.endswith(")") and " (" in d for d in unique):
        reasons = {d[d.rindex(" (") :] for d in unique}
        if len(reasons) == 1:
            return "; ".join(d[: d.rindex(" (")] for d in unique) + reasons.pop()
    return "; ".join(unique)


def command(*argv: str, env: Sequence[tuple[str, str]] = ()) -> Command:
    return Command(tuple(argv), tuple(env))
