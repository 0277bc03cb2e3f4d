"""Lexing of Postfix main.cf and master.cf exactly as Postfix reads them (readllines, split_nameval, master_ent).

Logical lines: a physical line starting with whitespace continues the previous one and is appended as it
is (its leading whitespace separates the pieces); empty lines and lines whose first non-space character is
`#` are skipped without ending the logical line; `#` anywhere else is ordinary text.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

WHITESPACE = " \t\r\n\v\f"
# Options of Postfix daemons (mail_server getopt string "cdDi:lm:n:o:s:St:uvVz") that take an argument.
_OPTIONS_WITH_ARGUMENT = frozenset("imnost")


@dataclass(frozen=True)
class Piece:
    """One physical line (1-based number, text without the newline)."""

    line: int
    text: str


@dataclass(frozen=True)
class LogicalLine:
    pieces: tuple[Piece, ...]

    @property
    def line(self) -> int:
        return self.pieces[0].line

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.pieces)

    def line_at(self, offset: int) -> int:
        """The physical line holding character `offset` of `text`."""
        starts: list[int] = []
        total = 0
        for piece in self.pieces:
            starts.append(total)
            total += len(piece.text)
        return self.pieces[max(0, bisect.bisect_right(starts, offset) - 1)].line


@dataclass(frozen=True)
class Problem:
    """Something Postfix rejects or ignores in a config file: `kind` is a short code, `detail` the text."""

    line: int
    kind: str  # "leading-whitespace" | "missing-equals" | "missing-name" | "short-entry" | "bad-brace" | "bad-override"
    detail: str


@dataclass(frozen=True)
class Definition:
    """`name = value` in main.cf; `value` is the raw text Postfix stores (before `$` expansion)."""

    name: str
    value: str
    line: int
    source: LogicalLine


@dataclass(frozen=True)
class Override:
    """`-o name=value` or `-o { name = value }` of a master.cf entry."""

    name: str
    value: str
    line: int
    long_form: bool


@dataclass(frozen=True)
class MasterEntry:
    """One master.cf service: `service type private unpriv chroot wakeup maxproc command args...`."""

    service: str
    type: str
    command: str
    args: tuple[str, ...]
    overrides: tuple[Override, ...]
    line: int
    stray_arguments: tuple[tuple[int, str], ...] = ()  # (line, text) of args that end option parsing

    @property
    def key(self) -> str:
        return f"{self.service}/{self.type}"

    @property
    def program(self) -> str:
        """The daemon name without a directory (`smtpd`, `postscreen`, ...)."""
        return self.command.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class MainCf:
    definitions: tuple[Definition, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class MasterCf:
    entries: tuple[MasterEntry, ...]
    problems: tuple[Problem, ...]


def logical_lines(text: str) -> tuple[list[LogicalLine], list[LogicalLine]]:
    """(logical lines, orphans): orphans start with whitespace and have no line to continue; Postfix skips
    them with "logical line must not start with whitespace"."""
    lines: list[LogicalLine] = []
    orphans: list[LogicalLine] = []
    current: list[Piece] = []
    orphan = False

    def flush() -> None:
        if current:
            (orphans if orphan else lines).append(LogicalLine(tuple(current)))

    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.lstrip(WHITESPACE)
        if not stripped or stripped.startswith("#"):
            continue
        if raw[0] in WHITESPACE:
            if not current:
                orphan = True
            current.append(Piece(number, raw))
            continue
        flush()
        current = [Piece(number, raw)]
        orphan = False
    flush()
    return lines, orphans


def split_nameval(text: str) -> tuple[str, str] | str:
    """(name, value) of `name = value` as Postfix splits it, or the error Postfix reports."""
    body = text.lstrip(WHITESPACE)
    if not body or body[0] == "=":
        return "missing attribute name"
    end = 0
    while end < len(body) and body[end] not in WHITESPACE and body[end] != "=":
        end += 1
    rest = body[end:].lstrip(WHITESPACE)
    if not rest.startswith("="):
        return "missing '=' after attribute name"
    return body[:end], rest[1:].strip(WHITESPACE)


def parse_main_cf(text: str) -> MainCf:
    lines, orphans = logical_lines(text)
    problems = [Problem(o.line, "leading-whitespace", o.text.strip(WHITESPACE)) for o in orphans]
    definitions: list[Definition] = []
    for logical in lines:
        split = split_nameval(logical.text)
        if isinstance(split, str):
            kind = "missing-name" if split.startswith("missing attribute") else "missing-equals"
            problems.append(Problem(logical.line, kind, logical.text.strip(WHITESPACE)))
            continue
        definitions.append(Definition(split[0], split[1], logical.line, logical))
    return MainCf(tuple(definitions), tuple(sorted(problems, key=lambda p: p.line)))


def tokens(logical: LogicalLine) -> list[tuple[int, str]]:
    """(offset, token) split at whitespace outside `{...}` groups (Postfix mystrtokq)."""
    text = logical.text
    found: list[tuple[int, str]] = []
    i, end = 0, len(text)
    while i < end:
        while i < end and text[i] in WHITESPACE:
            i += 1
        if i >= end:
            break
        start, level = i, 0
        while i < end:
            ch = text[i]
            if ch == "{":
                level += 1
            elif ch == "}" and level > 0:
                level -= 1
            elif level == 0 and ch in WHITESPACE:
                break
            i += 1
        found.append((start, text[start:i]))
    return found


def strip_braces(token: str) -> tuple[str, str | None]:
    """The text inside a `{ ... }` argument, trimmed, and an error when the braces are broken (extpar)."""
    level = 0
    for index, ch in enumerate(token):
        if ch == "{":
            level += 1
        elif ch == "}":
            level -= 1
            if level == 0:
                inner = token[1:index].strip(WHITESPACE)
                if index != len(token) - 1:
                    return inner, f"text after '}}' in \"{token}\""
                return inner, None
    return token[1:].strip(WHITESPACE), f"missing '}}' in \"{token}\""


def parse_master_cf(text: str) -> MasterCf:
    lines, orphans = logical_lines(text)
    problems = [Problem(o.line, "leading-whitespace", o.text.strip(WHITESPACE)) for o in orphans]
    entries: list[MasterEntry] = []
    for logical in lines:
        entry = _master_entry(logical, problems)
        if entry is not None:
            entries.append(entry)
    return MasterCf(tuple(entries), tuple(sorted(problems, key=lambda p: p.line)))


def _master_entry(logical: LogicalLine, problems: list[Problem]) -> MasterEntry | None:
    found = tokens(logical)
    if len(found) < 8:
        problems.append(Problem(logical.line, "short-entry", logical.text.strip(WHITESPACE)))
        return None
    args: list[tuple[int, str]] = []
    for offset, token in found[7:]:
        if token.startswith("{"):
            inner, error = strip_braces(token)
            if error:
                problems.append(Problem(logical.line_at(offset), "bad-brace", error))
            args.append((offset, inner))
        else:
            args.append((offset, token))
    overrides, stray = _options(logical, args, problems)
    return MasterEntry(
        service=found[0][1],
        type=found[1][1],
        command=args[0][1],
        args=tuple(a for _, a in args[1:]),
        overrides=tuple(overrides),
        line=logical.line,
        stray_arguments=tuple(stray),
    )


def _options(
    logical: LogicalLine, args: list[tuple[int, str]], problems: list[Problem]
) -> tuple[list[Override], list[tuple[int, str]]]:
    """The -o overrides, parsed as the daemon's getopt does (POSIX mode: the first non-option ends it)."""
    overrides: list[Override] = []
    index = 1
    while index < len(args):
        offset, arg = args[index]
        braced = logical.text[offset] == "{"  # `{ text }` where an option is expected: an argument (postconf)
        if arg == "--" or not arg.startswith("-") or arg == "-" or braced:
            stray = [(logical.line_at(o), a) for o, a in args[index + (arg == "--") :]]
            return overrides, stray
        letters = arg[1:]
        for pos, letter in enumerate(letters):
            if letter not in _OPTIONS_WITH_ARGUMENT:
                continue
            value = letters[pos + 1 :]
            value_offset = offset
            long_form = False
            if not value:
                index += 1
                if index >= len(args):
                    problems.append(
                        Problem(logical.line_at(offset), "bad-override", f"-{letter} without a value")
                    )
                    return overrides, []
                value_offset, value = args[index]
                long_form = logical.text[value_offset] == "{"
            if letter == "o":
                split = split_nameval(value)
                line = logical.line_at(value_offset)
                if isinstance(split, str):
                    problems.append(Problem(line, "bad-override", f'invalid "-o {value}": {split}'))
                else:
                    overrides.append(Override(split[0], split[1], line, long_form))
            break
        index += 1
    return overrides, []
