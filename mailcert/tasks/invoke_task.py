"""A task body declared with mailcert.tasks.declare as the Invoke Task that mailcert.tasks.namespace collects
(imports Invoke: only the Invoke program and `fab` use this module)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from invoke.tasks import Task

from mailcert.tasks.declare import Declared


class ShortFlagTask(Task[Any]):
    """A task with one-letter flags named by hand (SPEC's upper-case -I, fix's -y): Invoke derives only
    lower-case ones, and only when auto_shortflags is on."""

    def __init__(self, body: Callable[..., Any], *, short: Mapping[str, str], **options: Any) -> None:
        super().__init__(body, **options)
        self.short = dict(short)

    def arg_opts(self, name: str, default: Any, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        short = self.short.get(name)
        if short:
            opts["names"] = (*opts["names"], short)
        return opts


def invoke_task(body: Callable[..., Any], declaration: Declared) -> Task[Any]:
    """The Invoke Task for `body` as declared."""
    options = declaration.invoke_options()
    if declaration.short:
        return ShortFlagTask(body, short=declaration.short, **options)
    return Task(body, **options)
