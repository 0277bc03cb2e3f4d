"""`json.dumps(value, indent=2, ensure_ascii=False)`, the same text, without the standard library's
pure-Python encoder: with `indent` it yields every token from nested generators, which made encoding a
large lint report (1,000 endpoints) a large part of the run. Values it does not know (a dict key that is
not a string, an object json cannot encode) go to json.dumps itself, so the output and the errors stay
exactly json's."""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C implementation when there is one, as json.dumps uses

_INDENT = "  "


class _NotPlainJSONError(Exception):
    """A value the fast path leaves to json.dumps."""


def indented_json(value: object) -> str:
    """The text of `json.dumps(value, indent=2, ensure_ascii=False)`."""
    chunks: list[str] = []
    try:
        _encode(value, "\n", chunks)
    except _NotPlainJSONError:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(chunks)


def _encode(value: object, newline: str, out: list[str]) -> None:
    # The order of the tests is json.encoder._make_iterencode's: a str subclass is a string, bool before int.
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, list | tuple):
        _container("[", "]", [("", item) for item in value], newline, out)
    elif isinstance(value, dict):
        entries: list[tuple[str, object]] = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlainJSONError
            entries.append((encode_basestring(key) + ": ", item))
        _container("{", "}", entries, newline, out)
    else:
        raise _NotPlainJSONError


def _container(
    opening: str, closing: str, entries: list[tuple[str, object]], newline: str, out: list[str]
) -> None:
    """A list (entries without a prefix) or an object (each entry prefixed by its key), one entry a line."""
    if not entries:
        out.append(opening + closing)
        return
    inner = newline + _INDENT
    out.append(opening)
    separator = inner
    for prefix, item in entries:
        out.append(separator + prefix)
        separator = "," + inner
        _encode(item, inner, out)
    out.append(newline + closing)


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == -float("inf"):
        return "-Infinity"
    return float.__repr__(value)
