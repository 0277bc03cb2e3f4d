"""Exim's runtime configuration reader for the main section, as readconf.c does it (Exim 4.96).

Physical lines: leading/trailing white space dropped, `#` comments only at line start, macros substituted
(plain substring replacement, in definition order, not in the name of a macro being defined), `.ifdef`-style
conditionals, `.include` / `.include_if_exists`. Logical lines: a trailing `\\` joins the next physical
line (its leading white space dropped; comment lines may sit inside). Then each logical line of the main
section is a macro definition (`NAME = text`, `NAME == text`), a named list, `begin ...` (end of the main
section) or an option setting. What exim refuses to start with becomes a config.syntax finding.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from mailcert.catalogue import default_severity
from mailcert.facts import HostFiles
from mailcert.model import Finding, Severity
from mailcert.redaction import WITHHELD, may_quote
from mailcert.services.exim import options as exim_options
from mailcert.services.exim.option_line import OptionLineError, option_name, option_value
from mailcert.services.include_scope import MAX_INCLUDED_FILES, outside_folders, outside_message
from mailcert.services.model import Location

_MAX_INCLUDE_DEPTH = 20
_MAX_NESTED_IFS = 9  # readconf.c CSTATE_STACK_SIZE 10: "Too many nested .ifs" beyond this
_NAME = re.compile(r"[A-Za-z0-9_]*")

# readconf.c cond_list / next_cstate: state 0 = using lines, 1 = condition false so far, 2 = skip to .endif.
# Each directive: (name, push(+1)/pop(-1)/0, action when a macro was found on the line, action otherwise).
_CONDITIONALS = (
    ("ifdef", 1, 0, 1),
    ("ifndef", 1, 1, 0),
    ("elifdef", 0, 2, 3),
    ("elifndef", 0, 3, 2),
    ("else", 0, 2, 2),
    ("endif", -1, 0, 0),
)
_NEXT_STATE = ((0, 1, 2, 2), (2, 2, 0, 1), (2, 2, 2, 2))


@dataclass(frozen=True)
class PhysicalLine:
    """One line of a config file as exim reads it, with where it came from."""

    text: str
    location: Location


@dataclass(frozen=True)
class OptionSetting:
    """A main option as set in the config: the value text after macro expansion (booleans: "true"/"false")."""

    name: str
    value: str
    location: Location
    hidden: bool = False


@dataclass
class MainSection:
    """What the reader found: options, macros, named lists, files read, and fatal-or-suspicious findings."""

    options: dict[str, OptionSetting] = field(default_factory=dict)
    macros: dict[str, str] = field(default_factory=dict)
    named_lists: dict[str, str] = field(default_factory=dict)
    files_read: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    fatal: bool = False


class _FatalError(Exception):
    """Exim would stop reading here (LOG_PANIC_DIE)."""


def split_lines(text: str, path: str) -> list[PhysicalLine]:
    """A file's text as physical lines with 1-based line numbers."""
    return [PhysicalLine(line, Location(path, n)) for n, line in enumerate(text.split("\n"), start=1)]


def read_main_section(
    lines: Sequence[PhysicalLine],
    files: HostFiles,
    *,
    config_directory: str,
    command_line_macros: dict[str, str] | None = None,
) -> MainSection:
    """Read the main section of a config given as physical lines (one file, or Debian's concatenation)."""
    reader = _Reader(files, config_directory, command_line_macros or {})
    try:
        reader.run(lines)
    except _FatalError:
        reader.result.fatal = True
    return reader.result


class _Reader:
    def __init__(self, files: HostFiles, config_directory: str, command_line: dict[str, str]) -> None:
        self.files = files
        self.result = MainSection()
        self.builtin = [(name, "y") for name in exim_options.BUILTIN_MACROS]
        self.user: list[tuple[str, str]] = list(command_line.items())
        self.command_line = set(command_line)
        self.result.macros.update(command_line)
        self.config_directory = config_directory
        self.seen: dict[str, Location] = {}

    # -- findings -----------------------------------------------------------------------------------
    def fatal(self, message: str, location: Location | None, fix: str) -> _FatalError:
        self.result.findings.append(_syntax(message, location, fix))
        return _FatalError(message)

    # -- physical lines -----------------------------------------------------------------------------
    def run(self, lines: Sequence[PhysicalLine]) -> None:
        stack: list[tuple[Iterator[PhysicalLine], str]] = [(iter(lines), self.config_directory)]
        cstate = 0
        cstack: list[int] = []
        logical: str | None = None
        start: Location | None = None
        last: Location | None = None
        while stack:
            try:
                physical = next(stack[-1][0])
            except StopIteration:
                stack.pop()
                continue
            last = physical.location
            ss = physical.text.strip(" \t\r\n\f\v")
            ss, found = self.substitute(ss, logical is None)
            if ss.startswith("#"):
                continue
            if ss.startswith("."):
                directive = next((c for c in _CONDITIONALS if ss[1:].startswith(c[0])), None)
                if directive is not None:
                    _, push, if_found, if_not = directive
                    if push > 0:
                        if len(cstack) >= _MAX_NESTED_IFS:
                            raise self.fatal("Too many nested .ifs", last, "flatten the .ifdef nesting")
                        cstack.append(cstate)
                    elif not cstack:
                        raise self.fatal(
                            f"{ss.split()[0]} without matching .ifdef",
                            last,
                            "remove it or add the .if",
                        )
                    cstate = _NEXT_STATE[cstate][if_found if found else if_not]
                    if push < 0:
                        cstate = cstack.pop()
                    continue
            if cstate != 0:
                continue
            include = _include_target(ss)
            if include is not None:
                stack.append(self.open_include(include, stack[-1][1], last, len(stack)))
                continue
            if logical is None:
                logical, start = ss, physical.location
            else:
                logical += ss
            logical = logical.rstrip()
            if not logical:
                logical = None
                continue
            if logical.endswith("\\"):
                logical = logical[:-1]
                continue
            assert start is not None
            if self.logical_line(logical, start):
                return
            logical = None
        if logical:
            assert start is not None
            self.logical_line(logical, start)
        if cstack:
            raise self.fatal("Unexpected end of configuration file: .endif missing", last, "add the .endif")

    def open_include(
        self, target: tuple[str, bool], directory: str, location: Location, depth: int
    ) -> tuple[Iterator[PhysicalLine], str]:
        path, if_exists = target
        if not path.startswith("/"):
            if if_exists:
                raise self.fatal(
                    f'.include specifies a non-absolute path "{path}" (.include_if_exists needs one)',
                    location,
                    "use an absolute path",
                )
            path = f"{directory}/{path}"
        if depth > _MAX_INCLUDE_DEPTH:
            raise self.fatal(
                f".include of {path} nested more than {_MAX_INCLUDE_DEPTH} deep (a loop?)",
                location,
                "make sure included files do not include each other",
            )
        path = posixpath.normpath(path)  # as gather.sh's include pass names the file it sends
        if outside_folders("exim", path):
            message, fix = outside_message("exim", ".include_if_exists" if if_exists else ".include", path)
            self.result.findings.append(replace(_syntax(message, location, fix), severity=Severity.WARNING))
            return iter(()), directory
        if len(self.result.files_read) > MAX_INCLUDED_FILES:
            self.result.findings.append(
                _syntax(
                    f"more than {MAX_INCLUDED_FILES} included configuration files; {path} and the rest were not read",
                    location,
                    "check the .include lines",
                )
            )
            return iter(()), directory
        if if_exists and not self.files.exists(path):
            return iter(()), directory
        text = self.files.read_config(path)
        if text.text is None:
            raise self.fatal(
                f"failed to open included configuration file {path} ({text.error}); exim will not start",
                location,
                f"create {path} or remove the .include (or use .include_if_exists)",
            )
        self.result.files_read.append(path)
        return iter(split_lines(text.text, path)), path.rsplit("/", 1)[0] or "/"

    def substitute(self, line: str, start_of_logical: bool) -> tuple[str, bool]:
        """Macro substitution on one physical line, readconf.c macros_expand(); returns (line, found)."""
        begin = 0
        if start_of_logical and line[:1].isupper():
            after_name = _NAME.match(line).end()  # type: ignore[union-attr]
            rest = line[after_name:].lstrip()
            if rest.startswith("="):
                begin = len(line) - len(rest)
        begin = _next_candidate(line, begin)
        if begin >= len(line):
            return line, False
        found = False
        macros = self.builtin + self.user if line[begin] == "_" else self.user
        for name, value in macros:
            begin = _next_candidate(line, begin)
            if begin >= len(line):
                break
            search = begin
            while (at := line.find(name, search)) >= 0:
                line = line[:at] + value + line[at + len(name) :]
                search = _next_candidate(line, at + len(value))
                found = True
        return line, found

    # -- logical lines ------------------------------------------------------------------------------
    def logical_line(self, line: str, where: Location) -> bool:
        """Handle one logical line of the main section; True at `begin` (end of the main section)."""
        if line[0].isupper():
            self.define_macro(line, where)
            return False
        hidden = line.startswith("hide") and line[4:5].isspace()
        text = line[5:].lstrip() if hidden else line
        if text.startswith("begin "):
            return True
        for kind in ("domainlist", "hostlist", "addresslist", "localpartlist"):
            if text.startswith(kind):
                name, _, value = text[len(kind) :].partition("=")
                self.result.named_lists[f"{kind} {name.strip()}"] = value.strip()
                return False
        self.set_option(text, hidden, where)
        return False

    def define_macro(self, line: str, where: Location) -> None:
        name = _NAME.match(line).group()  # type: ignore[union-attr]
        rest = line[len(name) :].lstrip()
        if not rest.startswith("="):
            # readconf.c logs "malformed macro definition" and exim exits.
            shown = line if may_quote(line) else WITHHELD
            raise self.fatal(f"malformed macro definition: {shown}", where, "write NAME = value")
        redefine = rest.startswith("==")
        value = rest[2 if redefine else 1 :].lstrip()
        for index, (existing, _) in enumerate(self.user):
            if existing == name:
                if existing in self.command_line:
                    return  # -D on the command line wins over the file
                if not redefine:
                    raise self.fatal(
                        f'macro "{name}" is already defined (use "==" if you want to redefine it)',
                        where,
                        f"use {name} == value to redefine, or remove one definition",
                    )
                self.user[index] = (name, value)
                self.result.macros[name] = value
                return
            if len(existing) < len(name) and existing in name:
                raise self.fatal(
                    f'"{name}" cannot be defined as a macro because previously defined macro "{existing}" '
                    "is a substring",
                    where,
                    f"rename {name} or define it before {existing}",
                )
        if redefine:
            raise self.fatal(f'can\'t redefine an undefined macro "{name}"', where, f"use {name} = value")
        self.user.append((name, value))
        self.result.macros[name] = value

    def set_option(self, text: str, hidden: bool, where: Location) -> None:
        try:
            head = option_name(text, hidden)
            # Aliases (daemon_smtp_port / daemon_smtp_ports) are separate table entries: both may be set.
            if head.written in self.seen:
                first = self.seen[head.written]
                raise OptionLineError(
                    f'"{head.name}" option set for the second time (first at {first.file} line {first.line}); '
                    "exim refuses to start",
                    f"keep one {head.name} setting",
                )
            value = option_value(head)
        except OptionLineError as exc:
            raise self.fatal(exc.message, where, exc.fix) from None
        self.seen[head.written] = where
        self.result.options[head.option] = OptionSetting(head.option, value, where, head.hidden)


def _next_candidate(line: str, start: int) -> int:
    """Next index where a macro name may start: an upper-case letter, or `_` before one."""
    index = start
    while index < len(line):
        char = line[index]
        if "A" <= char <= "Z" or (char == "_" and "A" <= line[index + 1 : index + 2] <= "Z"):
            return index
        index += 1
    return index


def _include_target(line: str) -> tuple[str, bool] | None:
    """(path, if_exists) for an `.include` / `.include_if_exists` line, else None."""
    for directive, if_exists in ((".include_if_exists", True), (".include", False)):
        if line.startswith(directive) and line[len(directive) : len(directive) + 1].isspace():
            path = line[len(directive) :].strip()
            if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
                path = path[1:-1]
            return path, if_exists
    return None


def _syntax(message: str, location: Location | None, fix: str) -> Finding:
    return Finding(
        check="config.syntax",
        severity=default_severity("config.syntax"),
        message=message,
        fix=fix,
        service="exim",
        file=location.file if location else None,
        line=location.line if location else None,
    )
