"""`mailcert explain` (placeholder until its issue lands)."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from mailcert.errors import UsageError


@task
def explain(c: Context) -> None:
    """Not built yet."""
    raise UsageError("`explain` is not built yet")
