"""mailcert's own lint of the result, before anything is sent to the host: the planner knows every file's
content after the change, so the host's facts with the plan's files written (and its chmods done) are
linted on the control side and compared with the host as it is.

A plan whose result has a critical config/cert/key finding the host does not have now is refused: nothing
is written, nothing reloaded, and the reason names the finding. Files certbot writes (the live/ folder of
a lineage the plan issues, expands or renews) are not known before certbot runs: findings about them are
left to the re-check after the reload.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import posixpath
from collections.abc import Iterable, Mapping
from datetime import datetime

from mailcert.audit.lint import LintOptions, lint_host_model
from mailcert.audit.options import lint_options
from mailcert.errors import MailcertError
from mailcert.facts import FileFacts, HostFiles, TextFile
from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.inventory.model import InventoryHost
from mailcert.model import Finding, Severity
from mailcert.pem import scan_pem
from mailcert.pki.trust import TrustStore

# What the pre-check judges: the configuration and the certificate files it names.
JUDGED = ("config.", "cert.", "key.")
# Findings that depend on which roots are trusted: not judged with default_lint_options (it trusts none).
TRUST_DEPENDENT = frozenset({"cert.untrusted", "cert.chain-incomplete"})


class ResultFiles:
    """A host's files as they will be once the plan's files are written and its chmods run (read-only)."""

    def __init__(
        self, base: HostFiles, written: Mapping[str, tuple[str, int | None]], modes: Mapping[str, int]
    ):
        self.base = base
        self.written = dict(written)  # path → (text, mode for a new file)
        self.modes = dict(modes)  # path → mode after chmod

    def read_config(self, path: str) -> TextFile:
        if path in self.written:
            return TextFile(path=path, text=self.written[path][0])
        return self.base.read_config(path)

    def pem_file(self, path: str) -> FileFacts:
        if path not in self.written:
            return self._moded(self.base.pem_file(path))
        blocks, pem_error = scan_pem(self.written[path][0].encode())
        return dataclasses.replace(self.stat(path), blocks=blocks, pem_error=pem_error)

    def stat(self, path: str) -> FileFacts:
        if path not in self.written:
            return self._moded(self.base.stat(path))
        text, mode = self.written[path]
        old = self.base.stat(path)
        if old.exists:
            return self._moded(dataclasses.replace(old, size=len(text.encode())))
        return self._moded(FileFacts(path=path, exists=True, mode=mode, uid=0, gid=0, owner="root",
                                     group="root", size=len(text.encode())))  # fmt: skip

    def _moded(self, facts: FileFacts) -> FileFacts:
        mode = self.modes.get(facts.path)
        return facts if mode is None or not facts.exists else dataclasses.replace(facts, mode=mode)

    def exists(self, path: str) -> bool:
        return path in self.written or self.is_dir(path) or self.base.exists(path)

    def is_dir(self, path: str) -> bool:
        folder = path.rstrip("/") + "/"
        return self.base.is_dir(path) or any(p.startswith(folder) for p in self.written)

    def listdir(self, path: str) -> list[str]:
        folder = path.rstrip("/") or "/"
        names = set(self.base.listdir(path))
        for written in self.written:
            parent, _, _ = written.rpartition("/")
            if (parent or "/") == folder:
                names.add(posixpath.basename(written))
        return sorted(names)

    def glob(self, pattern: str) -> list[str]:
        found = set(self.base.glob(pattern))
        found.update(p for p in self.written if fnmatch.fnmatchcase(p, pattern) and _same_depth(p, pattern))
        return sorted(found)


def _same_depth(path: str, pattern: str) -> bool:
    return path.count("/") == pattern.count("/")


def result_files(files: HostFiles, plan: HostPlan) -> ResultFiles:
    written: dict[str, tuple[str, int | None]] = {}
    modes: dict[str, int] = {}
    for change in plan.changes:
        if change.file is not None and change.kind in (ChangeKind.EDIT, ChangeKind.CREATE):
            written[change.file.path] = (change.file.after, change.file.mode)
            if change.file.link:  # the configuration reads the edited file by the link's name
                written[change.file.link] = (change.file.after, change.file.mode)
        elif change.kind is ChangeKind.COMMAND and change.command and change.command.argv[:1] == ("chmod",):
            argv = change.command.argv
            try:
                mode = int(argv[1], 8)
            except (IndexError, ValueError):
                continue
            for path in argv[2:]:
                modes[path] = mode
    return ResultFiles(files, written, modes)


def certbot_folders(plan: HostPlan) -> list[str]:
    """The live/ and archive/ folders of the lineages the plan's certbot steps write (unknown until then)."""
    folders = []
    for change in plan.changes:
        if change.kind is not ChangeKind.ISSUE or change.command is None:
            continue
        argv = change.command.argv
        if "--cert-name" in argv[:-1]:
            name = argv[argv.index("--cert-name") + 1]
            folders += [f"/live/{name}/", f"/archive/{name}/"]
    return folders


def _key(finding: Finding) -> tuple[object, ...]:
    return (finding.check, finding.service, finding.port, finding.hostname)


def _judged(finding: Finding, unknown: Iterable[str], ignored: frozenset[str]) -> bool:
    if finding.severity is not Severity.CRITICAL or not finding.check.startswith(JUDGED):
        return False
    if finding.check in ignored:
        return False
    about = f"{finding.file or ''} {finding.message}"
    return not any(folder in about for folder in unknown)


def new_errors(
    files: HostFiles,
    plan: HostPlan,
    *,
    name: str,
    options: LintOptions,
    ignored: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Critical config/cert/key findings the plan's result has and the host's files have not now."""
    if not any(c.file is not None or c.kind is ChangeKind.COMMAND for c in plan.changes):
        return []
    unknown = certbot_folders(plan)
    now_report, _ = lint_host_model(files, name=name, options=options)
    after_report, _ = lint_host_model(result_files(files, plan), name=name, options=options)
    had = {_key(f) for f in now_report.findings}
    return [f for f in after_report.findings if _judged(f, unknown, ignored) and _key(f) not in had]


def refusal(
    files: HostFiles, plan: HostPlan, *, options: LintOptions, ignored: frozenset[str] = frozenset()
) -> str | None:
    """Why the plan must not be applied (its result has a new critical finding), or None."""
    try:
        new = new_errors(files, plan, name=plan.host, options=options, ignored=ignored)
    except MailcertError as exc:
        return f"not applied: mailcert cannot lint the result of the change: {exc.line()}"
    if not new:
        return None
    first = new[0]
    where = ":".join(str(x) for x in (first.service, first.port) if x is not None)
    place = f" in {first.file}" + (f":{first.line}" if first.line else "") if first.file else ""
    more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
    return (
        f"not applied: mailcert's lint of the result finds a new error, {first.check}"
        f"{' on ' + where if where else ''}{place}: {first.message}{more}; the host was not changed"
    )


def default_lint_options(host: InventoryHost, now: datetime) -> LintOptions:
    """Lint options from the inventory alone (no trusted roots: the same for the host now and the result)."""
    return lint_options(host, now=now, trust=TrustStore.of(()))
