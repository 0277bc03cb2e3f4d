"""`mailcert lab up|down|status|exec` (placeholder until the lab issue lands)."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from mailcert.errors import UsageError


@task
def status(c: Context) -> None:
    """Not built yet."""
    raise UsageError("`lab` is not built yet")
