"""One main-section option line, as readconf.c readconf_handle_option() reads it (Exim 4.96).

`[hide] name = value`; booleans also as `name`, `no_name`, `not_name`, `name = true|false|yes|no`; a value in
double quotes has backslash escapes. Time and size values are kept the way `exim -bP` prints them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailcert.redaction import WITHHELD, may_quote
from mailcert.services.exim import options as exim_options

_NAME = re.compile(r"[A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "a": "\a", "e": "\x1b"}


class OptionLineError(Exception):
    """A line exim refuses (it stops with this message)."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class OptionHead:
    """The option named by a line: as written, without no_/not_ (`written`), canonical (`option`)."""

    name: str
    written: str
    option: str
    negated: bool
    rest: str
    hidden: bool


def option_name(text: str, hidden: bool) -> OptionHead:
    """Read the option name (and `hide`) of a line; unknown names are fatal for exim."""
    if not text[:1].isalpha():
        shown = text if may_quote(text) else WITHHELD
        raise OptionLineError(f"option setting expected: {shown}", "fix the line")
    name = _NAME.match(text).group()  # type: ignore[union-attr]
    rest = text[len(name) :].lstrip()
    if name == "hide":  # "hide" then a tab, or "hide  name": readconf_handle_option reads one more word
        hidden, name = True, _NAME.match(rest).group()  # type: ignore[union-attr]
        rest = rest[len(name) :].lstrip()
    prefix = 3 if name.startswith("no_") else 4 if name.startswith("not_") else 0
    option = exim_options.ALIASES.get(name[prefix:], name[prefix:])
    if option not in exim_options.MAIN_OPTIONS:
        raise OptionLineError(
            f'main option "{name}" unknown; exim will not start',
            "correct the option name (see the exim spec, chapter 'Main configuration')",
        )
    return OptionHead(name, name[prefix:], option, bool(prefix), rest, hidden)


def option_value(head: OptionHead) -> str:
    """The value the line sets: booleans as "true"/"false", strings dequoted, times/sizes as -bP prints."""
    name, rest = head.name, head.rest
    if head.option in exim_options.BOOLEANS:
        return _boolean(head)
    if head.negated:
        raise OptionLineError(f"negation prefix applied to a non-boolean option: {name}", "remove it")
    if not rest:
        raise OptionLineError(f"unexpected end of line (data missing) after {name}", f"write {name} = value")
    if not rest.startswith("="):
        raise OptionLineError(f'missing "=" after {name}', f"write {name} = value")
    return exim_options.normalized(head.option, _string(name, rest[1:].lstrip()))


def _boolean(head: OptionHead) -> str:
    name, rest = head.name, head.rest
    if not rest:
        return "false" if head.negated else "true"
    if head.negated or not rest.startswith("="):
        raise OptionLineError(
            f"extra characters follow boolean option {name}: {rest if may_quote(rest) else WITHHELD}",
            "remove them",
        )
    value = rest[1:].strip()
    word = _NAME.match(value).group()  # type: ignore[union-attr]
    if value[len(word) :].strip():
        raise OptionLineError(
            f'extra characters follow "{word}" for boolean option {name}', "write true or false"
        )
    if word.lower() in ("true", "yes"):
        return "true"
    if word.lower() in ("false", "no"):
        return "false"
    raise OptionLineError(f'"{word}" is not a valid value for the "{name}" option', "use true or false")


def _string(name: str, value: str) -> str:
    if not value.startswith('"'):
        return value
    text, end = dequote(value)
    if end is None:
        raise OptionLineError(f"missing quote at end of string value for {name}", 'close the "')
    if value[end:]:
        raise OptionLineError(f"extra characters follow string value for {name}", "remove them")
    return text


def dequote(value: str) -> tuple[str, int | None]:
    """string_dequote(): the text of a quoted string (backslash escapes applied) and the index after it."""
    out: list[str] = []
    index = 1
    while index < len(value):
        char = value[index]
        if char == '"':
            return "".join(out), index + 1
        if char == "\\" and index + 1 < len(value):
            index += 1
            char = value[index]
            octal = re.match(r"[0-7]{1,3}", value[index:])
            hexa = re.match(r"x([0-9A-Fa-f]{1,2})", value[index:])
            if octal:
                out.append(chr(int(octal.group(), 8)))
                index += len(octal.group())
                continue
            if hexa:
                out.append(chr(int(hexa.group(1), 16)))
                index += len(hexa.group())
                continue
            out.append(_ESCAPES.get(char, char))
        else:
            out.append(char)
        index += 1
    return "".join(out), None
