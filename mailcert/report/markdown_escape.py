"""The one escaping of host values for every Markdown output (the report's `--format markdown` and the
plan `fix --format markdown` adds): plain text, inline code and fenced blocks.

A value can close neither the code span nor the fence it sits in: each is opened with one backtick more
than the longest run of backticks in the value, so a path holding a backtick or a diff line holding four
cannot end it early and turn what follows into Markdown (links, HTML, forged headings).
"""

from __future__ import annotations

import re

from mailcert.wording import printable

_BACKSLASH_ESCAPED = re.compile(r"([\\`*_\[\]|~])")


def md_text(text: str) -> str:
    """Plain text safe inside a Markdown paragraph or table cell (one line; HTML and markup neutralised)."""
    text = printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _BACKSLASH_ESCAPED.sub(r"\\\1", text)
    return "<br>".join(line.strip() for line in text.splitlines()) if "\n" in text else text


def md_code(text: str) -> str:
    """An inline code span that survives backticks and `|` in the value (GFM tables split on `|`)."""
    text = " ".join(printable(text).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_fence(body: str, info: str) -> list[str]:
    """`body` as a fenced block: the fence is one backtick longer than any run of three or more in it."""
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=2)
    fence = "`" * (longest + 1)
    return [f"{fence}{info}", *printable(body).splitlines(), fence]
