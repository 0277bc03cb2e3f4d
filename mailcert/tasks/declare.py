"""Tasks declared without importing Invoke, for the commands that never connect over SSH (lint, explain,
probe): `mailcert.tasks.direct` runs them without Invoke, Fabric and paramiko, and `mailcert.tasks.namespace`
turns the same declaration into the Invoke task that `fab` and chained runs use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

Body = TypeVar("Body", bound=Callable[..., None])

_ATTRIBUTE = "__mailcert_task__"


@dataclass(frozen=True)
class Declared:
    """What Invoke's `@task(...)` would be given: positional and repeatable arguments, help per argument."""

    positional: tuple[str, ...] = ()
    iterable: tuple[str, ...] = ()
    help: Mapping[str, str] = field(default_factory=dict)

    def invoke_options(self) -> dict[str, Any]:
        """Keyword arguments for `invoke.tasks.task` (short flags off: help lists long flags only)."""
        return {
            "positional": list(self.positional),
            "iterable": list(self.iterable),
            "help": dict(self.help),
            "auto_shortflags": False,
        }


def task(
    *, positional: tuple[str, ...] = (), iterable: tuple[str, ...] = (), help: Mapping[str, str]
) -> Callable[[Body], Body]:
    """`@task(...)` as Invoke's, recorded on the function instead of wrapping it in an Invoke Task."""

    def declare(body: Body) -> Body:
        setattr(body, _ATTRIBUTE, Declared(positional, iterable, help))
        return body

    return declare


def declared(obj: object) -> Declared | None:
    """The declaration made with `task`, if `obj` is a task body."""
    found = getattr(obj, _ATTRIBUTE, None) if callable(obj) else None
    return found if isinstance(found, Declared) else None
