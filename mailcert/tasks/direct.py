"""`mailcert lint|explain|probe ...` without Invoke, Fabric and paramiko: those commands never connect over
SSH, and importing the SSH libraries cost more than half a second on every call (issue 23).

The direct path takes only command lines it understands completely: one of these tasks, its own flags, no
config file. Anything else (another task chained after it, an unknown or repeated flag, a core option, a
config file that could change a setting) returns None, and mailcert.cli hands the whole command line to
the Invoke program, which then gives its usual answer or error. Help is printed as Invoke prints it.
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
from pathlib import Path
from typing import Any

from mailcert.errors import MailcertError
from mailcert.tasks.declare import Declared, declared
from mailcert.tasks.state import run_state

# Task name -> module holding its body (declared with mailcert.tasks.declare.task).
DIRECT_TASKS = {
    "lint": "mailcert.tasks.lint",
    "explain": "mailcert.tasks.explain",
    "probe": "mailcert.tasks.probe",
}

# Words that start another task (or task collection) of the Invoke program: a command line chaining one of
# them goes to that program. tests/unit/test_cli_direct.py keeps this in step with mailcert.tasks.namespace.
TASK_WORDS = frozenset({"lint", "review", "probe", "explain", "audit", "fix", "verify", "lab", "report"})

# Invoke's config files (prefix "mailcert"): when one exists, or MAILCERT_CONFIG names one, the Invoke
# program runs, so that a broken file is reported as before.
_CONFIG_FILES = [f"/etc/mailcert.{ext}" for ext in ("yaml", "yml", "json", "py")]
_USER_CONFIG_FILES = [f"~/.mailcert.{ext}" for ext in ("yaml", "yml", "json", "py")]

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

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def spec(self) -> str:
        """The flag as Invoke's help shows it: `--name=STRING`, `--name=INT`, `--name` (bool, list)."""
        value = {str: "STRING", int: "INT"}.get(self.kind)
        if value:
            return f"{self.flag}={value}"
        if self.kind is bool and self.default is True:
            return f"--[no-]{self.flag[2:]}"
        return self.flag


def run_direct(argv: Sequence[str]) -> int | None:
    """Run the command line if it is one of DIRECT_TASKS alone; the exit code, or None for the Invoke program."""
    words = list(argv[1:])
    if len(words) == 2 and words[0] in ("--help", "-h") and words[1] in DIRECT_TASKS:
        words = [words[1], "--help"]
    if not words or words[0] not in DIRECT_TASKS or "--" in words or _config_file_present():
        return None
    name = words[0]
    body = getattr(importlib.import_module(DIRECT_TASKS[name]), name)
    declaration = declared(body)
    if declaration is None:
        raise TypeError(f"{name} is not declared with mailcert.tasks.declare.task")
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
        help_text = declaration.help.get(param.name.replace("_", "-"), declaration.help.get(param.name))
        flag = Flag(param.name, kind, default, help_text)
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
    rows = [(flag.spec(), flag.help) for _, flag in sorted(flags.items())]
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


def _config_file_present() -> bool:
    if os.environ.get("MAILCERT_CONFIG"):
        return True
    paths = [Path(p) for p in _CONFIG_FILES] + [Path(p).expanduser() for p in _USER_CONFIG_FILES]
    return any(path.exists() for path in paths)


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
