"""Report formats: one module per `--format` value, all fed the same `Report` (mailcert.model).

`render(report, fmt)` is the one entry point commands use; `FORMATS` lists what it can render.
"""

from __future__ import annotations

from collections.abc import Callable

from mailcert.errors import UsageError
from mailcert.model import Report

__all__ = ["FORMATS", "check_format", "render"]


# Each renderer imported when its format is asked for: HTML brings Jinja2, which JSON output never needs.
def _text(report: Report, color: bool, _root: str | None) -> str:
    from mailcert.report.text import render_text

    return render_text(report, color=color)


def _json(report: Report, _color: bool, _root: str | None) -> str:
    from mailcert.report.json import render_json

    return render_json(report)


def _sarif(report: Report, _color: bool, root: str | None) -> str:
    from mailcert.report.sarif import render_sarif

    return render_sarif(report, root_uri=root)


def _markdown(report: Report, _color: bool, _root: str | None) -> str:
    from mailcert.report.markdown import render_markdown

    return render_markdown(report)


def _html(report: Report, _color: bool, _root: str | None) -> str:
    from mailcert.report.html import render_html

    return render_html(report)


_RENDERERS: dict[str, Callable[[Report, bool, str | None], str]] = {
    "text": _text,
    "json": _json,
    "sarif": _sarif,
    "markdown": _markdown,
    "html": _html,
}

FORMATS: tuple[str, ...] = tuple(_RENDERERS)
"""The `--format` values `render` accepts, in the order `--help` should list them."""

# SPEC names these formats; they are not built yet.
_PLANNED: tuple[str, ...] = ()


def check_format(fmt: str) -> str:
    """The normalised format name, or a UsageError naming the choices (call it before doing the work)."""
    name = fmt.lower()
    if name not in _RENDERERS:
        choices = ", ".join(FORMATS)
        if name in _PLANNED:
            raise UsageError(f"--format {fmt} is not built yet", todo=f"use one of: {choices}")
        raise UsageError(f"unknown report format {fmt!r}", todo=f"use one of: {choices}")
    return name


def render(report: Report, fmt: str, *, color: bool = False, sarif_root: str | None = None) -> str:
    """The report in format `fmt` (one of FORMATS), as text ending in a newline.

    `color` adds ANSI colour to the text format only (pass `sys.stdout.isatty()`). `sarif_root` is where
    the linted ROOT sits for code scanning (e.g. `hosts/mx1/`); SARIF paths stay relative to it.
    """
    return _RENDERERS[check_format(fmt)](report, color, sarif_root)
