"""`mailcert explain TEXT-or-CODE`: a mail client's error message or Outlook flag value → server-side causes."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from mailcert.errors import UsageError
from mailcert.tasks.declare import task
from mailcert.tasks.options import emit
from mailcert.tasks.state import run_state

if TYPE_CHECKING:
    from invoke.context import Context


@task(
    iterable=("text",),
    help={
        "text": "the client's error text or a code (0x30, 48, 0x80090322, 12038); quote it, or give it as "
        "several words",
        "host": "mail host name to put into the confirming commands (default HOST)",
        "format": "text (default) or json",
        "output": "write the result to this file instead of standard output",
    },
)
def explain(
    c: Context,
    text: list[str] | None = None,
    host: str = "HOST",
    format: str = "text",
    output: str | None = None,
) -> None:
    """Map what Outlook, Apple Mail, Thunderbird, Android or OpenSSL said to the checks that find its cause."""
    # Imported here, not above: `--help` reads only the declaration (mailcert.tasks.direct).
    from mailcert.explain import NO_MATCH_HINT, no_match_reason, render_text
    from mailcert.explain import explain as explain_error

    query = " ".join(text or []).strip()
    if not query:
        raise UsageError("nothing to explain", todo="give the error text or code, e.g. mailcert explain 0x30")
    if format not in ("text", "json"):
        raise UsageError(f"--format {format!r} is not available for explain", todo="use text or json")
    result = explain_error(query, host=host)
    rendered = (
        json.dumps(result.to_json(), indent=2, ensure_ascii=False)
        if format == "json"
        else render_text(result)
    )
    emit(rendered, output)
    if not result.causes:
        print(f"mailcert explain: {no_match_reason(query)} — {NO_MATCH_HINT}", file=sys.stderr)
        run_state().forced_code = 3
