"""The task set shared by `mailcert TASK...` and `fab TASK...`: one module per task, chained through RunState."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

from mailcert.tasks.declare import Declared, declared
from mailcert.tasks.state import RunState, run_state

if TYPE_CHECKING:
    from invoke.collection import Collection

# Tasks whose positional argument may be repeated (`mailcert probe a b c`): task name -> iterable flag.
VARIADIC: dict[str, str] = {"probe": "target", "explain": "text", "review": "tree", "report.merge": "report"}

__all__ = ["VARIADIC", "RunState", "declared_tasks", "namespace", "run_state", "variadic_argv"]


def namespace() -> Collection:
    from invoke.collection import Collection

    from mailcert.tasks import audit, explain, fix, lab, lint, probe, report, review, verify
    from mailcert.tasks.invoke_task import invoke_task

    ns = Collection()
    for module in (lint, review, probe, explain, audit, fix, verify):
        for body, declaration in declared_tasks(module):
            ns.add_task(invoke_task(body, declaration))
    for module, name in ((lab, "lab"), (report, "report")):
        sub = Collection(name)  # as Collection.from_module names it and shows its docstring
        sub.__doc__ = module.__doc__
        for body, declaration in declared_tasks(module):
            sub.add_task(invoke_task(body, declaration))
        ns.add_collection(sub)
    ns.configure({"run": {"in_stream": False}})
    return ns


def declared_tasks(module: ModuleType) -> list[tuple[Callable[..., None], Declared]]:
    """The task bodies the module defines (declared with mailcert.tasks.declare.task), in definition order."""
    found = []
    for obj in vars(module).values():
        declaration = declared(obj)
        if declaration is not None and getattr(obj, "__module__", None) == module.__name__:
            found.append((obj, declaration))
    return found


def variadic_argv(argv: list[str]) -> list[str]:
    """Rewrite `probe a b --flag x c` as `probe --target a --target b --flag x --target c`.

    Invoke takes one value per positional argument; SPEC wants `probe TARGET...`. Bare words after a
    variadic task become repeated flags until the next task name.
    """
    from mailcert.tasks.lab import lab_argv  # `lab up` / `lab exec HOST -- CMD` → Invoke's form
    from mailcert.tasks.report import report_argv  # `report merge` → `report.merge`

    argv = report_argv(lab_argv(argv))
    ns_tasks = set(namespace().task_names)
    asked = _help_asked(argv, ns_tasks)
    if asked is not None:
        return asked
    out: list[str] = []
    flag = None
    expects_value = False
    for word in argv:
        if flag is not None and not expects_value and not word.startswith("-") and word not in ns_tasks:
            out += [f"--{flag}", word]
            continue
        expects_value = False
        if word in VARIADIC and not (
            out and out[-1].startswith("-") and "=" not in out[-1] and _takes_value(out[-1])
        ):
            flag = VARIADIC[word]
        elif word in ns_tasks:
            flag = None
        elif flag is not None and word.startswith("-") and "=" not in word and _takes_value(word):
            expects_value = True
        out.append(word)
    return out


def _help_asked(argv: list[str], ns_tasks: set[str]) -> list[str] | None:
    """`lint --help` and `lab exec -h` as `--help lint`: a task with a positional argument would otherwise take
    the flag as that argument ("ROOT --help is not a directory")."""
    words = argv[1:]
    for cut in ("--", "--command"):  # what follows is a command for a lab host, not for mailcert
        if cut in words:
            words = words[: words.index(cut)]
    for index, word in enumerate(words):
        if word in ("--help", "-h"):
            task = next((w for w in reversed(words[:index]) if w in ns_tasks), None)
            return None if task is None else [argv[0], "--help", task]
    return None


def _takes_value(flag: str) -> bool:
    # Boolean flags of the variadic tasks; every other flag of theirs takes a value.
    return flag not in {"--starttls", "--implicit", "--help", "-h", "--no-color", "--require-files"}
