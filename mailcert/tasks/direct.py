"""`mailcert lint|explain|probe ...` and `mailcert TASK --help` without Invoke, Fabric and paramiko: lint,
explain and probe never connect over SSH, help never connects at all, and importing the SSH libraries costs
more than the rest of such a call (issue 23).

The direct path takes only command lines it understands completely: one of lint, explain or probe with its
own flags, or `TASK --help`, `TASK -h`, `--help TASK` or `-h TASK` for any task (`lab up`, `report merge` as
well as `lab.up`, `report.merge`); and never with a config file (mailcert.fastpath.config_file_present).
Anything else (another task chained after it, an unknown or repeated flag, a core option, a config file
that could change a setting or be broken) returns None, and mailcert.cli hands the whole command line to
the Invoke program, which then gives its usual answer or error. Help is printed as that program prints it.
"""

from __future__ import annotations

import fcntl
import importlib
import inspect
import os
import struct
import sys
import termios
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mailcert.errors import MailcertError
from mailcert.fastpath import config_file_present
from mailcert.tasks.declare import Declared, declared
from mailcert.tasks.state import run_state

# Task name -> module holding its body (declared with mailcert.tasks.declare.task).
DIRECT_TASKS = {
    "lint": "mailcert.tasks.lint",
    "explain": "mailcert.tasks.explain",
    "probe": "mailcert.tasks.probe",
}

# Every task of the Invoke program, by its name there -> (module, function): `mailcert TASK --help` prints
# its help from the declaration (mailcert.tasks.declare). tests/unit/test_cli_direct.py keeps this in step
# with mailcert.tasks.namespace.
HELP_TASKS = {
    **{name: (module, name) for name, module in DIRECT_TASKS.items()},
    **{name: (f"mailcert.tasks.{name}", name) for name in ("review", "audit", "fix", "verify")},
    "lab.up": ("mailcert.tasks.lab", "up"),
    "lab.down": ("mailcert.tasks.lab", "down"),
    "lab.status": ("mailcert.tasks.lab", "status"),
    "lab.exec": ("mailcert.tasks.lab", "exec_"),
    "report.merge": ("mailcert.tasks.report", "merge"),
}
_HELP_FLAGS = ("--help", "-h")

# Words that start another task (or task collection) of the Invoke program: a command line chaining one of
# them goes to that program. tests/unit/test_cli_direct.py keeps this in step with mailcert.tasks.namespace.
TASK_WORDS = frozenset({"lint", "review", "probe", "explain", "audit", "fix", "verify", "lab", "report"})

_BINARY = "mailcert"
_INDENT = "  "  # Invoke's Program.leading_indent
_COLUMN_GAP = 3  # Invoke's Program.col_padding
_VARIADIC = {"probe": "target", "explain": "text"}  # bare words after these tasks repeat this argument


@dataclass(frozen=True)
class Flag:
    """One argument of a task body, as Invoke derives it from the signature."""

    name: str  # the parameter name
    kind: type  # str, int, bool or list
    default: Any
    help: str | None
    short: str | None = None  # a one-letter flag declared by hand (-I)

    @property
    def flag(self) -> str:
        return "--" + self.name.strip("_").replace("_", "-")  # Invoke's translate_underscores

    def spec(self) -> str:
        """The flag as Invoke's help shows it: `--name=STRING`, `--name=INT`, `--name` (bool, list), a short
        flag first: `-I STRING, --inventory=STRING`."""
        value = {str: "STRING", int: "INT"}.get(self.kind)
        if value:
            names = [f"{self.flag}={value}"]
        elif self.kind is bool and self.default is True:
            names = [f"--[no-]{self.flag[2:]}"]
        else:
            names = [self.flag]
        if self.short:
            names.insert(0, f"-{self.short} {value}" if value else f"-{self.short}")
        return ", ".join(names)

    def sort_key(self) -> tuple[int, str, str]:
        """Invoke's flag_key: long-only flags first, then by the short flag (or the long one) without
        dashes, case-insensitively, lower case before upper."""
        name = self.short or self.flag[2:]
        return (1 if len(name) == 1 else 0, name.lower(), name.swapcase())


def run_direct(argv: Sequence[str]) -> int | None:
    """Run the command line if it is one of DIRECT_TASKS alone; the exit code, or None for the Invoke program."""
    words = list(argv[1:])
    help_of = asked_help(words)
    if help_of is not None and help_of not in DIRECT_TASKS:
        if config_file_present():
            return None
        body, declaration = task_body(help_of)
        sys.stdout.write(task_help(help_of, body, task_flags(body, declaration)))
        return 0
    if len(words) == 2 and words[0] in _HELP_FLAGS and words[1] in DIRECT_TASKS:
        words = [words[1], "--help"]
    if not words or words[0] not in DIRECT_TASKS or "--" in words or config_file_present():
        return None
    name = words[0]
    body, declaration = task_body(name)
    flags = task_flags(body, declaration)
    if "--help" in words or "-h" in words:
        sys.stdout.write(task_help(name, body, flags))
        return 0
    values = parse_flags(name, words[1:], flags, declaration.positional)
    if values is None:
        return None
    state = run_state()
    state.reset()
    try:
        body(None, **values)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 — SPEC's exit code and a one-line message
        return failure_code(exc)
    return state.exit_code


def asked_help(words: Sequence[str]) -> str | None:
    """The task whose help the words ask for, as the Invoke program names it, when they are just that:
    `TASK --help`, `TASK -h`, `--help TASK`, `-h TASK`, where TASK is `audit`, `lab up` or `lab.up`."""
    if len(words) < 2 or len(words) > 3:
        return None
    if words[0] in _HELP_FLAGS:
        rest = words[1:]
    elif words[-1] in _HELP_FLAGS:
        rest = words[:-1]
    else:
        return None
    name = ".".join(rest)
    if len(rest) == 2 and rest[0] not in ("lab", "report"):
        return None
    return name if name in HELP_TASKS else None


def task_body(name: str) -> tuple[Callable[..., None], Declared]:
    """The body of task `name` (a key of HELP_TASKS) and its declaration."""
    module, function = HELP_TASKS[name]
    body = getattr(importlib.import_module(module), function)
    declaration = declared(body)
    if declaration is None:
        raise TypeError(f"{name} is not declared with mailcert.tasks.declare.task")
    return body, declaration


def task_flags(body: Callable[..., None], declaration: Declared) -> dict[str, Flag]:
    """The body's arguments (after the context) by flag, typed as Invoke types them."""
    flags: dict[str, Flag] = {}
    for param in list(inspect.signature(body).parameters.values())[1:]:
        default = None if param.default is inspect.Parameter.empty else param.default
        if param.name in declaration.iterable:
            kind: type = list
            default = default if default is not None else []
        else:
            kind = type(default) if default is not None else str
        help_text = declaration.help.get(
            param.name.strip("_").replace("_", "-"), declaration.help.get(param.name)
        )
        flag = Flag(param.name, kind, default, help_text, declaration.short.get(param.name))
        flags[flag.flag] = flag
    return flags


def parse_flags(
    task: str, words: Sequence[str], flags: dict[str, Flag], positional: Sequence[str] = ()
) -> dict[str, Any] | None:
    """Keyword arguments for the body, or None when the words are not plainly this task's flags."""
    values: dict[str, Any] = {
        f.name: list(f.default) if f.kind is list else f.default for f in flags.values()
    }
    given: set[str] = set()
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-"):
            if word in TASK_WORDS:
                return None  # another task follows: Invoke chains them
            if task in _VARIADIC:
                values[_VARIADIC[task]].append(word)
                continue
            argument = next((n for n in positional if n not in given), None)
            if argument is None:
                return None
            values[argument] = word
            given.add(argument)
            continue
        spec, has_value, inline = word.partition("=")
        flag = flags.get(spec)
        if flag is None or (flag.kind is not list and flag.name in given):
            return None
        given.add(flag.name)
        if flag.kind is bool:
            if has_value:
                return None
            values[flag.name] = True
            continue
        if not has_value:
            if index >= len(words) or words[index].startswith("-"):
                return None
            inline = words[index]
            index += 1
        if flag.kind is list:
            values[flag.name].append(inline)
        elif flag.kind is int:
            if not inline.strip().lstrip("-").isdigit():
                return None
            values[flag.name] = int(inline)
        else:
            values[flag.name] = inline
    if any(name not in given for name in positional):
        return None  # Invoke says which argument is missing
    return values


def task_help(name: str, body: Callable[..., None], flags: dict[str, Flag]) -> str:
    """`mailcert TASK --help` as Invoke's Program.print_task_help prints it."""
    rows = [(flag.spec(), flag.help) for flag in sorted(flags.values(), key=Flag.sort_key)]
    lines = [
        f"Usage: {_BINARY} [--core-opts] {name} {'[--options] ' if rows else ''}[other tasks here ...]",
        "",
    ]
    lines.append("Docstring:")
    docstring = inspect.getdoc(body)
    if docstring:
        lines += [_INDENT + line if line.strip() else "" for line in docstring.splitlines()]
    else:
        lines.append(_INDENT + "none")
    lines += ["", "Options:"]
    if not rows:
        return "\n".join([*lines, _INDENT + "none", "", ""])
    width = max(len(spec) for spec, _ in rows)
    wrapper = textwrap.TextWrapper(width=_terminal_columns() - width - len(_INDENT) - _COLUMN_GAP - 1)
    for spec, help_text in rows:
        chunks = wrapper.wrap(help_text or "")
        start = _INDENT + spec.ljust(width) + " " * _COLUMN_GAP
        if not chunks:
            lines.append(start.rstrip())
            continue
        lines.append(start + chunks[0])
        lines += [" " * len(start) + chunk for chunk in chunks[1:]]
    return "\n".join([*lines, "", ""])


def _terminal_columns() -> int:
    """Columns of the terminal on standard output, 80 when there is none (Invoke's terminals.pty_size)."""
    try:
        packed = fcntl.ioctl(sys.stdout, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
        columns = int(struct.unpack("HHHH", packed)[1])
    except (struct.error, TypeError, OSError, AttributeError):
        return 80
    return columns or 80


def failure_code(exc: BaseException) -> int:
    """Say what went wrong on standard error and return SPEC's exit code (3 usage/internal, 130 interrupted)."""
    if isinstance(exc, MailcertError):
        print(f"mailcert: {exc.line()}", file=sys.stderr)
        return 3
    if isinstance(exc, KeyboardInterrupt):
        print("mailcert: interrupted", file=sys.stderr)
        return 130
    if isinstance(exc, OSError):  # e.g. an unreadable ~/.mailcert.yaml or output folder
        where = f" {exc.filename}" if exc.filename else ""
        print(f"mailcert: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return 3
    if os.environ.get("MAILCERT_DEBUG"):
        raise exc
    print(
        f"mailcert: internal error ({type(exc).__name__}: {exc}) — a bug in mailcert; "
        "run again with MAILCERT_DEBUG=1 to see where, and report it",
        file=sys.stderr,
    )
    return 3
