"""Pure editors of Postfix main.cf and master.cf text: change one setting, keep every comment and the layout.

A main.cf value may go on over indented lines: the whole logical line is replaced. Earlier definitions of
the same parameter (Postfix uses only the last) are commented out, so the file says one thing. Values are
validated by the caller (mailcert.fix.values) before they get here; these functions check again that no
value can add a line.
"""

from __future__ import annotations

import re

from mailcert.errors import MailcertError
from mailcert.fix import values
from mailcert.fix.edit.text import Lines, indentation
from mailcert.services.postfix.syntax import LogicalLine, logical_lines, parse_master_cf, split_nameval

DISABLED_NOTE = "  # overridden by a later line; disabled by mailcert"


def _definitions(text: str, name: str) -> list[LogicalLine]:
    found = []
    for logical in logical_lines(text)[0]:
        pair = split_nameval(logical.text)
        if isinstance(pair, tuple) and pair[0] == name:
            found.append(logical)
    return found


def main_cf_value(text: str, name: str) -> str | None:
    """The raw value of the last definition of `name`, or None."""
    defs = _definitions(text, name)
    if not defs:
        return None
    pair = split_nameval(defs[-1].text)
    return pair[1] if isinstance(pair, tuple) else None


def set_main_cf(text: str, name: str, value: str, *, path: str = "main.cf") -> str:
    """`name = value` in place of the last definition (appended when absent); earlier ones commented out."""
    values.postfix_value(value, f"{name} in {path}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise MailcertError(f"{path}: {name!r} is not a Postfix parameter name")
    lines = Lines(text)
    defs = _definitions(text, name)
    new_line = f"{name} = {value}"
    if not defs:
        lines.append(new_line)
        return lines.text()
    last = defs[-1]
    # bottom-up, so earlier line numbers stay valid
    for piece in reversed(last.pieces[1:]):
        lines.delete(piece.line)
    lines.set(last.line, new_line)
    for earlier in defs[:-1]:
        for piece in earlier.pieces:
            lines.set(
                piece.line,
                "#" + lines.get(piece.line, path) + (DISABLED_NOTE if piece is earlier.pieces[0] else ""),
            )
    return lines.text()


def move_trailing_comment(text: str, line: int, *, path: str = "main.cf") -> str:
    """`name = value # note` (a physical line of a definition) → `# note` on its own line above, value kept."""
    lines = Lines(text)
    current = lines.get(line, path)
    head, sep, comment = current.partition(" #")
    if not sep:
        head, sep, comment = current.partition("\t#")
    if not sep or not head.strip():
        raise MailcertError(f"{path} line {line}: no trailing '# comment' to move")
    lines.set(line, head.rstrip())
    lines.insert_after(
        line - 1,
        [f"{indentation(current)}#{comment}".rstrip() if indentation(current) else f"#{comment}".rstrip()],
    )
    return lines.text()


def dedent(text: str, line: int, *, path: str = "main.cf") -> str:
    """Remove the leading whitespace of one physical line (an indented parameter glued to the one above)."""
    lines = Lines(text)
    current = lines.get(line, path)
    if current == current.lstrip():
        raise MailcertError(f"{path} line {line} is not indented")
    lines.set(line, current.lstrip())
    return lines.text()


# -- master.cf -------------------------------------------------------------------------------------------------


def _entry(text: str, entry_line: int, path: str) -> tuple[list[tuple[int, str]], int]:
    """(options (line, name) of the master.cf entry starting at entry_line, its last physical line)."""
    for entry in parse_master_cf(text).entries:
        if entry.line == entry_line:
            logical = next(ll for ll in logical_lines(text)[0] if ll.line == entry_line)
            return [(o.line, o.name) for o in entry.overrides], logical.pieces[-1].line
    raise MailcertError(f"{path}: no service entry starts on line {entry_line}")


def _option_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"-o\s*(\{\s*)?" + re.escape(name) + r"\s*=\s*[^\s}]*(\s*\})?")


def set_master_option(
    text: str, entry_line: int, name: str, value: str, *, replaces: str | None = None, path: str = "master.cf"
) -> str:
    """`-o name=value` on the entry at entry_line: the existing option (or the mistyped `replaces`) is
    rewritten in place, else a new indented `-o` line is added after the entry's last line."""
    values.postfix_value(value, f"-o {name} in {path}")
    if any(c.isspace() for c in value) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise MailcertError(f"{path}: refusing `-o {name}={value}` (a master.cf option is one word)")
    options, last_line = _entry(text, entry_line, path)
    lines = Lines(text)
    for option_line, option_name in reversed(options):
        if option_name in (name, replaces):
            current = lines.get(option_line, path)
            updated, count = _option_pattern(option_name).subn(f"-o {name}={value}", current, count=1)
            if count:
                lines.set(option_line, updated)
                return lines.text()
    lines.insert_after(last_line, [f"  -o {name}={value}"])
    return lines.text()


def remove_master_option(text: str, entry_line: int, name: str, *, path: str = "master.cf") -> str:
    """Drop `-o name=...` from the entry: its line when the option stands alone there, else the words."""
    options, _ = _entry(text, entry_line, path)
    lines = Lines(text)
    for option_line, option_name in reversed(options):
        if option_name != name:
            continue
        current = lines.get(option_line, path)
        rest = _option_pattern(name).sub("", current, count=1)
        if rest.strip():
            lines.set(option_line, rest.rstrip())
        else:
            lines.delete(option_line)
    return lines.text()


def set_table_value(text: str, line: int, value: str, *, path: str = "table") -> str:
    """The value of a lookup-table line (`key value`), key and spacing kept: an SNI table entry."""
    values.postfix_value(value, f"an entry of {path}")
    lines = Lines(text)
    current = lines.get(line, path)
    match = re.match(r"^(?P<key>\S+)(?P<space>\s+)\S", current)
    if match is None or current.lstrip().startswith("#"):
        raise MailcertError(f"{path} line {line} is not a `key value` entry", todo="run the audit again")
    lines.set(line, f"{match.group('key')}{match.group('space')}{value}")
    return lines.text()
