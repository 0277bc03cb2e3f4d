"""Postfix `$name` expansion with main.cf semantics (Postfix mac_parse/mac_expand, checked against postconf 3.7).

Forms: `$name`, `${name}`, `$(name)`, `${name?text}` (text when name is non-empty), `${name:text}` (text when
empty), `${name?{t1}:{t2}}`, relational `${{a} == {b}?{t1}:{t2}}` (==, !=, <, <=, >, >=, and the `level`
variants comparing compatibility levels), and `$$` for a literal `$`. An undefined name is empty.
The `?`/`:` test looks at the raw (unexpanded) value, as Postfix does; the chosen text is expanded.
What Postfix rejects with "macro processing error" (a lone `$`, `${a`, `${a-b}`, a loop) raises MacroError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

Lookup = Callable[[str], str | None]  # raw value of a parameter, None when undefined

MAX_NESTING = 100  # Postfix: "unreasonable macro call nesting"
_NAME = re.compile(r"[A-Za-z0-9_]+")
_NAME_OR_EMPTY = re.compile(r"[A-Za-z0-9_]*")
_WS = " \t\r\n\v\f"
_RELATIONS = ("==", "!=", "<=", ">=", "<", ">")


class MacroError(ValueError):
    """A value Postfix cannot expand (it stops with "macro processing error")."""


def expand(text: str, lookup: Lookup, *, _depth: int = 0) -> str:
    """The value of `text` after recursive `$` expansion."""
    if "$" not in text:
        return text
    if _depth > MAX_NESTING:
        raise MacroError("unreasonable macro call nesting (a parameter refers to itself?)")
    out: list[str] = []
    for kind, piece in _parse(text):
        if kind == "literal":
            out.append(piece)
        elif kind == "name":
            raw = lookup(piece)
            out.append(expand(raw, lookup, _depth=_depth + 1) if raw else "")
        else:
            out.append(_expression(piece, lookup, _depth))
    return "".join(out)


def referenced_names(text: str) -> set[str]:
    """Parameter names a value mentions (in any branch); best effort, never raises."""
    return set(re.findall(r"\$[{(]?\s*([A-Za-z0-9_]+)", text.replace("$$", "")))


def _parse(text: str) -> Iterator[tuple[str, str]]:
    """Split into ("literal", text), ("name", name) and ("expr", inside-of-braces) pieces."""
    literal: list[str] = []
    i, end = 0, len(text)
    while i < end:
        ch = text[i]
        if ch != "$":
            literal.append(ch)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < end else ""
        if nxt == "$":
            literal.append("$")
            i += 2
            continue
        if literal:
            yield "literal", "".join(literal)
            literal = []
        if nxt in ("{", "("):
            close = "}" if nxt == "{" else ")"
            level, j = 1, i + 2
            while level:
                if j >= end:
                    raise MacroError(f'truncated macro reference: "{text}"')
                if text[j] == nxt:
                    level += 1
                elif text[j] == close:
                    level -= 1
                j += 1
            inner = text[i + 2 : j - 1]
            if not inner:
                raise MacroError(f'empty macro name: "{text}"')
            yield "expr", inner
            i = j
            continue
        match = _NAME.match(text, i + 1)
        if not match:
            raise MacroError(f'empty macro name: "{text}"')
        yield "name", match.group()
        i = match.end()
    if literal:
        yield "literal", "".join(literal)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _braced(text: str, i: int) -> tuple[str, int]:
    """The payload of the balanced `{...}` starting at text[i] and the index after it."""
    level, j = 0, i
    while j < len(text):
        if text[j] == "{":
            level += 1
        elif text[j] == "}":
            level -= 1
            if level == 0:
                return text[i + 1 : j], j + 1
        j += 1
    raise MacroError(f'missing "}}" in "{text}"')


def _expression(inner: str, lookup: Lookup, depth: int) -> str:
    i = _skip_ws(inner, 0)
    if i < len(inner) and inner[i] == "{":
        holds, i = _relation(inner, i, lookup, depth)
        i = _skip_ws(inner, i)
        if i >= len(inner):
            return "true" if holds else ""
        test_value = "x" if holds else ""
    else:
        match = _NAME_OR_EMPTY.match(inner, i)
        assert match is not None  # the pattern matches the empty string
        name = match.group()  # "${ }" names the empty, undefined parameter (postconf agrees)
        i = _skip_ws(inner, match.end())
        if i >= len(inner):
            raw = lookup(name)
            return expand(raw, lookup, _depth=depth + 1) if raw else ""
        if inner[i] not in "?:":
            raise MacroError(f'attribute name syntax error at: "...{inner[:i]}>>>{inner[i:]}"')
        test_value = lookup(name) or ""
    op = inner[i]
    if op not in "?:":
        raise MacroError(f'"?" or ":" expected at: "...{inner[:i]}>>>{inner[i:]}"')
    if_true, if_false = _branches(inner, i + 1, op)
    chosen = if_true if (test_value != "") == (op == "?") else if_false
    return expand(chosen, lookup, _depth=depth + 1)


def _branches(inner: str, i: int, op: str) -> tuple[str, str]:
    """(text used when the test selects it, the other text) for `?text`, `?{t1}:{t2}`, `:text`, `:{t}`.
    The legacy `?text` form keeps the text verbatim, whitespace included."""
    start, i = i, _skip_ws(inner, i)
    if i >= len(inner) or inner[i] != "{":
        return inner[start:], ""
    first, i = _braced(inner, i)
    i = _skip_ws(inner, i)
    if i >= len(inner):
        return first, ""
    if op == ":" or inner[i] != ":":
        what = "unexpected input" if op == ":" else '":" expected'
        raise MacroError(f'{what} at: "...{inner[:i]}>>>{inner[i:]}"')
    i = _skip_ws(inner, i + 1)
    if i < len(inner) and inner[i] == "{":
        second, i = _braced(inner, i)
        if _skip_ws(inner, i) < len(inner):
            raise MacroError(f'unexpected input at: "...{inner[:i]}>>>{inner[i:]}"')
        return first, second
    return first, inner[i:]


def _relation(inner: str, i: int, lookup: Lookup, depth: int) -> tuple[bool, int]:
    left, i = _braced(inner, i)
    i = _skip_ws(inner, i)
    op = next((r for r in _RELATIONS if inner.startswith(r, i)), None)
    if op is None:
        raise MacroError(f'relational operator expected at: "...{inner[:i]}>>>{inner[i:]}"')
    i += len(op)
    level = inner.startswith("level", i)
    if level:
        i += len("level")
    i = _skip_ws(inner, i)
    if i >= len(inner) or inner[i] != "{":
        raise MacroError(f'"{{" expected at: "...{inner[:i]}>>>{inner[i:]}"')
    right, i = _braced(inner, i)
    a = expand(left, lookup, _depth=depth + 1)
    b = expand(right, lookup, _depth=depth + 1)
    return _compare(a, b, op, level), i


def _compare(a: str, b: str, op: str, level: bool) -> bool:
    if level:
        return _holds(_level(a), _level(b), op)
    if a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
        return _holds((int(a),), (int(b),), op)
    return _holds(tuple(map(ord, a)), tuple(map(ord, b)), op)


def _holds(x: tuple[int, ...], y: tuple[int, ...], op: str) -> bool:
    return {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _level(text: str) -> tuple[int, ...]:
    """A compatibility level such as "3.6" or "0" as comparable numbers."""
    try:
        return tuple(int(part) for part in text.strip().split("."))
    except ValueError as exc:
        raise MacroError(f"bad compatibility level: {text!r}") from exc
