"""Tasks declared without importing Invoke: `mailcert.tasks.direct` runs lint, explain and probe and prints
every task's help without Invoke, Fabric and paramiko, and `mailcert.tasks.namespace` turns the same
declaration into the Invoke task that `mailcert`'s other command lines, `fab` and chained runs use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

Body = TypeVar("Body", bound=Callable[..., None])

_ATTRIBUTE = "__mailcert_task__"


@dataclass(frozen=True)
class Declared:
    """What Invoke's `@task(...)` would be given: positional and repeatable arguments, help per argument,
    the task's name when it is not the function's, and short flags given by hand (Invoke's automatic ones
    are off: help lists long flags, plus these)."""

    positional: tuple[str, ...] = ()
    iterable: tuple[str, ...] = ()
    help: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    short: Mapping[str, str] = field(default_factory=dict)  # argument -> its one-letter flag (-I, -y)

    def invoke_options(self) -> dict[str, Any]:
        """Keyword arguments for `invoke.tasks.task`, except the short flags (see mailcert.tasks.invoke_task)."""
        options: dict[str, Any] = {
            "positional": list(self.positional),
            "iterable": list(self.iterable),
            "help": dict(self.help),
            "auto_shortflags": False,
        }
        if self.name is not None:
            options["name"] = self.name
        return options


def task(
    *,
    positional: tuple[str, ...] = (),
    iterable: tuple[str, ...] = (),
    help: Mapping[str, str],
    name: str | None = None,
    short: Mapping[str, str] | None = None,
) -> Callable[[Body], Body]:
    """`@task(...)` as Invoke's, recorded on the function instead of wrapping it in an Invoke Task."""

    def declare(body: Body) -> Body:
        setattr(body, _ATTRIBUTE, Declared(positional, iterable, help, name, dict(short or {})))
        return body

    return declare


def declared(obj: object) -> Declared | None:
    """The declaration made with `task`, if `obj` is a task body."""
    found = getattr(obj, _ATTRIBUTE, None) if callable(obj) else None
    return found if isinstance(found, Declared) else None
