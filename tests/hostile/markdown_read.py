"""Markdown read back as CommonMark reads it, for the tests: fenced blocks and code spans."""

from __future__ import annotations

import re

FENCE_OPEN = re.compile(r"^ {0,3}(`{3,})([^`]*)$")


def fenced_blocks(markdown: str) -> list[list[str]]:
    """The contents of each backtick fenced block, as CommonMark closes them (a line of at least as many
    backticks as the opening, nothing else but spaces)."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    opening = 0
    for line in markdown.split("\n"):
        if current is None:
            found = FENCE_OPEN.match(line)
            if found:
                current, opening = [], len(found.group(1))
            continue
        closing = re.fullmatch(r" {0,3}(`+) *", line)
        if closing and len(closing.group(1)) >= opening:
            blocks.append(current)
            current = None
        else:
            current.append(line)
    assert current is None, "a fenced block is never closed"
    return blocks


def code_spans(line: str) -> list[str]:
    """The code spans of one line as CommonMark reads them: a run of N backticks up to the next run of
    exactly N; one space stripped from both ends when both are spaces."""
    spans: list[str] = []
    runs = list(re.finditer(r"`+", line))
    i = 0
    while i < len(runs):
        opener = runs[i]
        closer = next(
            (j for j in range(i + 1, len(runs)) if len(runs[j].group()) == len(opener.group())), None
        )
        if closer is None:
            i += 1
            continue
        body = line[opener.end() : runs[closer].start()]
        if len(body) >= 2 and body.startswith(" ") and body.endswith(" ") and body.strip():
            body = body[1:-1]
        spans.append(body)
        i = closer + 1
    return spans
