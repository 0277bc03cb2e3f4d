"""Dovecot configuration text → logical lines, the way Dovecot's config parser reads them.

Rules (checked against doveconf 2.3.19): leading and trailing blanks are dropped; `#` outside quotes starts a
comment anywhere (without a blank before it doveconf warns "Ambiguous '#'"); a line ending in `\\`
continues on the next one, joined with one space (a comment or blank line ends the continuation); `"…"`
and `'…'` around a whole value are removed, a backslash keeping the next character; `<path` reads the
value from a file; `!include` / `!include_try` take a glob relative to the including file's directory
(2.3: `!include` that matches nothing is fatal, "No matches"); a section opens with `name [arg] {` where
`{` must end the line, and closes with a line `}` (possibly in another file). 2.4 adds `key = <<END`
heredocs.
"""

from __future__ import annotations

import enum
import posixpath
from dataclasses import dataclass, field

from mailcert.facts import HostFiles
from mailcert.redaction import WITHHELD, quoted_line
from mailcert.services.include_scope import MAX_INCLUDED_FILES, outside_folders, outside_message

MAX_FILES = MAX_INCLUDED_FILES
MAX_DEPTH = 40
MAX_TOTAL_CHARS = 64 * 1024 * 1024
_BLANKS = " \t\r"


class LineKind(enum.Enum):
    SETTING = "setting"
    BEGIN = "begin"  # a section or filter opens: key = its name, value = its argument
    END = "end"
    INCLUDE = "include"  # an `!include` / `!include_try` line, before the lines it brings in


@dataclass(frozen=True)
class ConfLine:
    """One logical line. For SETTING, `value` is unquoted; a `<file` value has file_ref set and the `<`
    removed. `text` is the line as written (comments stripped), for messages."""

    kind: LineKind
    file: str
    line: int
    key: str
    value: str = ""
    file_ref: bool = False
    quoted: bool = False
    heredoc: bool = False
    text: str = ""


@dataclass(frozen=True)
class Problem:
    """Something Dovecot refuses or misreads: where, what, and the fix."""

    file: str | None
    line: int | None
    message: str
    fix: str
    check: str = "config.syntax"
    warning: bool = False  # report as a warning: Dovecot copes (e.g. converts an obsolete setting)
    refused: bool = True  # Dovecot refuses the configuration (doveconf fails); False: it starts, misreading


@dataclass
class ReadResult:
    lines: list[ConfLine] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unmatched_include_try: list[str] = field(default_factory=list)


def unquote(value: str) -> tuple[str, bool]:
    """A whole-value "…" or '…' without its quotes (backslash keeps the next character), and whether it was."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        out: list[str] = []
        i = 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                i += 1
            out.append(inner[i])
            i += 1
        return "".join(out), True
    return value, False


def strip_comment(text: str) -> tuple[str, bool]:
    """The line without its `#` comment (quotes respected), and whether the `#` had no blank before it."""
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in "\"'":
            i += 1
            while i < n and text[i] != char:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                i += 1
            if i >= n:
                return text, False
        elif char == "#":
            return text[:i], i > 0 and text[i - 1] not in _BLANKS
        i += 1
    return text, False


def quote_line(text: str) -> str:
    """A config line for a message; one a secret rule covers (mailcert/redaction.py) is not repeated."""
    if "PRIVATE" in text:
        return WITHHELD
    return quoted_line(text)


def _split_key(text: str) -> tuple[str, str]:
    i = 0
    while i < len(text) and text[i] not in _BLANKS and text[i] != "=":
        i += 1
    return text[:i], text[i:].lstrip(_BLANKS)


class _Reader:
    def __init__(self, files: HostFiles, version: str | None) -> None:
        self.files = files
        self.result = ReadResult()
        self.v24 = version == "2.4"
        self.total = 0

    def problem(
        self, file: str | None, line: int | None, message: str, fix: str, *, refused: bool = True
    ) -> None:
        self.result.problems.append(Problem(file, line, message, fix, refused=refused))

    def read(
        self, path: str, stack: tuple[str, ...], where: tuple[str, int] | None, *, optional: bool
    ) -> None:
        if path in stack:
            file, line = where or (None, None)
            self.problem(
                file,
                line,
                f"Recursive include file: {path}",
                "remove the !include that includes the file itself",
            )
            return
        if len(stack) >= MAX_DEPTH:
            file, line = where or (None, None)
            self.problem(
                file,
                line,
                f"!include nested more than {MAX_DEPTH} deep; not followed",
                "flatten the includes",
            )
            return
        if len(self.result.files_read) >= MAX_FILES:
            self.problem(
                path,
                None,
                f"more than {MAX_FILES} configuration files; the rest were not read",
                "check the !include globs",
            )
            return
        text_file = self.files.read_config(path)
        if text_file.text is None:
            if optional:
                return
            file, line = where or (path, None)
            self.problem(
                file,
                line,
                f"cannot read {path}: {text_file.error}",
                f"create {path} or fix the path that names it",
            )
            return
        self.total += len(text_file.text)
        if self.total > MAX_TOTAL_CHARS:
            self.problem(
                path, None, "configuration larger than 64 MiB; not read further", "check the !include globs"
            )
            return
        self.result.files_read.append(path)
        self._lines(path, text_file.text, (*stack, path))

    def _lines(self, path: str, text: str, stack: tuple[str, ...]) -> None:
        pending = ""
        heredoc: tuple[ConfLine, str, list[str]] | None = None
        physical = text.split("\n")
        if physical and not physical[-1]:
            physical.pop()  # the newline ending the last line does not start another one
        for number, raw in enumerate(physical, start=1):
            if heredoc is not None:
                start, terminator, body = heredoc
                if raw.strip(_BLANKS) == terminator:
                    self.result.lines.append(
                        ConfLine(
                            LineKind.SETTING,
                            path,
                            start.line,
                            start.key,
                            "\n".join(body),
                            heredoc=True,
                            text=start.text,
                        )
                    )
                    heredoc = None
                else:
                    body.append(raw)
                continue
            stripped, ambiguous = strip_comment(raw.lstrip(_BLANKS))
            if ambiguous:
                self.problem(
                    path,
                    number,
                    "'#' without a blank before it starts a comment: Dovecot ignores the rest of the line",
                    "put the value in double quotes if the '#' belongs to it, or add a blank before the comment",
                    refused=False,
                )
            stripped = stripped.rstrip(_BLANKS)
            if stripped.endswith("\\"):
                part = stripped[:-1].rstrip(_BLANKS)
                if part:
                    pending += part + " "
                continue
            if pending:
                stripped, pending = pending + stripped, ""
            if not stripped:
                continue
            parsed = self._parse(path, number, stripped, stack)
            if parsed is not None and self.v24 and parsed.file_ref and parsed.value.startswith("<"):
                heredoc = (parsed, parsed.value[1:].strip(_BLANKS), [])
            elif parsed is not None:
                if parsed.kind is LineKind.SETTING and parsed.key == "dovecot_config_version":
                    self.v24 = True
                self.result.lines.append(parsed)
        if pending:
            self.problem(
                path,
                len(physical),
                "the file ends with a '\\' continuation: Dovecot drops the unfinished line",
                "remove the trailing '\\' or finish the line",
                refused=False,
            )
        if heredoc is not None:
            self.problem(
                path,
                heredoc[0].line,
                f"heredoc <<{heredoc[1]} is never closed",
                f"end it with a line {heredoc[1]}",
            )

    def _parse(self, path: str, number: int, text: str, stack: tuple[str, ...]) -> ConfLine | None:
        key, rest = _split_key(text)
        if key in ("!include", "!include_try"):
            self.result.lines.append(ConfLine(LineKind.INCLUDE, path, number, key, rest, text=text))
            self._include(path, number, rest, stack, optional=key == "!include_try")
            return None
        if rest.startswith("="):
            value = rest[1:].lstrip(_BLANKS)
            if value.startswith("<"):
                return ConfLine(
                    LineKind.SETTING, path, number, key, value[1:].lstrip(_BLANKS), file_ref=True, text=text
                )
            unquoted, quoted = unquote(value)
            if unquoted.startswith("<"):  # "</path": same text for doveconf; taken as the file meant
                unquoted = unquoted[1:].lstrip(_BLANKS)
                return ConfLine(
                    LineKind.SETTING, path, number, key, unquoted, file_ref=True, quoted=True, text=text
                )
            return ConfLine(LineKind.SETTING, path, number, key, unquoted, quoted=quoted, text=text)
        if key == "}" and not rest:
            return ConfLine(LineKind.END, path, number, "}", text=text)
        if key.endswith("{") and not rest and len(key) > 1:
            key, rest = key[:-1], "{"
        if not rest.endswith("{"):
            message = "Garbage after '{'" if "{" in rest else "Expecting '{'"
            self.problem(
                path,
                number,
                f"{message}: Dovecot refuses to start on {quote_line(text)}",
                "write `name = value`, or open a section with `name [arg] {` alone on its line, "
                "the settings on the following lines and `}` on a line of its own",
            )
            return None
        argument = rest[:-1].strip(_BLANKS)
        if "{" in argument:
            self.problem(
                path, number, f"Garbage after '{{': {quote_line(text)}", "put each setting on its own line"
            )
            return None
        argument, _ = unquote(argument)
        return ConfLine(LineKind.BEGIN, path, number, key, argument, text=text)

    def _include(
        self, path: str, number: int, pattern: str, stack: tuple[str, ...], *, optional: bool
    ) -> None:
        if not pattern:
            self.problem(
                path, number, "!include without a file name", "name the file to include, or remove the line"
            )
            return
        full = pattern if pattern.startswith("/") else posixpath.join(posixpath.dirname(path), pattern)
        full = posixpath.normpath(full)
        if outside_folders("dovecot", full):
            message, fix = outside_message("dovecot", "!include", full)
            self.result.problems.append(Problem(path, number, message, fix, warning=True, refused=False))
            return
        if any(ch in full for ch in "*?["):
            matches = self.files.glob(full)
        elif self.files.exists(full):
            matches = [full]
        else:
            matches = []
        matches = [m for m in matches if not self.files.is_dir(m)] if matches else matches
        if not matches and not (self.files.exists(full) and self.files.is_dir(full)):
            if optional or (self.v24 and any(ch in full for ch in "*?[")):  # 2.4: an empty glob is fine
                self.result.unmatched_include_try.append(full)
                return
            self.problem(
                path,
                number,
                f"!include {pattern}: No matches — Dovecot refuses to start",
                f"create {full}, fix the path, or use !include_try for an optional file",
            )
            return
        for match in matches:
            self.read(match, stack, (path, number), optional=False)


def read_dovecot_config(files: HostFiles, path: str, version: str | None = None) -> ReadResult:
    """All logical lines of a Dovecot configuration, includes expanded in place."""
    reader = _Reader(files, version)
    reader.read(path, (), None, optional=False)
    return reader.result
