"""The task set shared by `mailcert TASK...` and `fab TASK...`: one module per task, chained through RunState."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailcert.tasks.declare import declared
from mailcert.tasks.state import RunState, run_state

if TYPE_CHECKING:
    from invoke.collection import Collection

# Tasks whose positional argument may be repeated (`mailcert probe a b c`): task name -> iterable flag.
VARIADIC: dict[str, str] = {"probe": "target", "explain": "text", "review": "tree", "report.merge": "report"}

__all__ = ["VARIADIC", "RunState", "namespace", "run_state", "variadic_argv"]


def namespace() -> Collection:
    from invoke.collection import Collection
    from invoke.tasks import task

    from mailcert.tasks import audit, explain, fix, lab, lint, probe, report, review, verify

    ns = Collection()
    for module in (lint, review, probe, explain, audit, fix, verify):
        for name in dir(module):
            obj = getattr(module, name)
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            declaration = declared(obj)
            if declaration is not None:  # declared without Invoke (mailcert.tasks.declare)
                ns.add_task(task(**declaration.invoke_options())(obj))
            elif _is_task(obj):
                ns.add_task(obj)
    ns.add_collection(Collection.from_module(lab, name="lab"))
    ns.add_collection(Collection.from_module(report, name="report"))
    ns.configure({"run": {"in_stream": False}})
    return ns


def _is_task(obj: object) -> bool:
    from invoke.tasks import Task

    return isinstance(obj, Task)


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
