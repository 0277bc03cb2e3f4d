"""`mailcert lint` (placeholder until its issue lands)."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from mailcert.errors import UsageError


@task
def lint(c: Context) -> None:
    """Not built yet."""
    raise UsageError("`lint` is not built yet")
