"""Pure editors of Dovecot configuration text: one setting changed where the parser found it.

The parser's Location says file:line for every setting; the editor rewrites that line only (indentation
and a trailing comment kept), or adds a setting inside a listener block.
"""

from __future__ import annotations

import re

from mailcert.errors import MailcertError
from mailcert.fix import values
from mailcert.fix.edit.text import Lines, indentation

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _setting_line(name: str) -> re.Pattern[str]:
    return re.compile(r"^(?P<indent>\s*)" + re.escape(name) + r"\s*=\s*(?P<value>.*?)(?P<comment>\s+#.*)?$")


def set_setting(text: str, line: int, name: str, value: str, *, path: str = "dovecot.conf") -> str:
    """Rewrite `name = ...` on `line` as `name = value` (same indentation, trailing comment kept)."""
    _check(name, value, path)
    lines = Lines(text)
    current = lines.get(line, path)
    match = _setting_line(name).match(current)
    if match is None:
        raise MailcertError(
            f"{path} line {line} does not set {name} (found {current.strip()[:80]!r})",
            todo="the file changed since it was read: run the audit again",
        )
    lines.set(line, f"{match.group('indent')}{name} = {value}{match.group('comment') or ''}")
    return lines.text()


def append_setting(text: str, name: str, value: str, *, path: str = "dovecot.conf") -> str:
    """A top-level `name = value` at the end of the file."""
    _check(name, value, path)
    lines = Lines(text)
    lines.append(f"{name} = {value}")
    return lines.text()


def set_block_setting(
    text: str, block_line: int, name: str, value: str, *, path: str = "dovecot.conf"
) -> str:
    """`name = value` directly inside the block opened on `block_line` (e.g. `inet_listener imaps {`):
    the existing line is rewritten, else one is added before the block's closing brace."""
    _check(name, value, path)
    lines = Lines(text)
    opener = lines.get(block_line, path)
    if "{" not in opener:
        raise MailcertError(f"{path} line {block_line} opens no block (found {opener.strip()[:80]!r})")
    depth = opener.count("{") - opener.count("}")
    pattern = _setting_line(name)
    inner_indent = indentation(opener) + "  "
    for number in range(block_line + 1, len(lines) + 1):
        current = lines.get(number, path)
        stripped = current.split("#", 1)[0]
        if depth == 1:
            match = pattern.match(current)
            if match is not None:
                lines.set(number, f"{match.group('indent')}{name} = {value}{match.group('comment') or ''}")
                return lines.text()
            if stripped.strip() and "}" not in stripped:
                inner_indent = indentation(current)
        depth += stripped.count("{") - stripped.count("}")
        if depth <= 0:
            lines.insert_after(number - 1, [f"{inner_indent}{name} = {value}"])
            return lines.text()
    raise MailcertError(f"{path}: the block opened on line {block_line} is not closed")


def _check(name: str, value: str, path: str) -> None:
    if not _NAME.match(name):
        raise MailcertError(f"{path}: {name!r} is not a Dovecot setting name")
    values.dovecot_value(value, f"{name} in {path}")
