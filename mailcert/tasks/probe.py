"""`mailcert probe` (placeholder until its issue lands)."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from mailcert.errors import UsageError


@task
def probe(c: Context) -> None:
    """Not built yet."""
    raise UsageError("`probe` is not built yet")
