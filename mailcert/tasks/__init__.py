"""The task set shared by `mailcert TASK...` and `fab TASK...`: one module per task, chained through RunState."""

from __future__ import annotations

from invoke.collection import Collection

from mailcert.tasks.state import RunState, run_state

# Tasks whose positional argument may be repeated (`mailcert probe a b c`): task name -> iterable flag.
VARIADIC: dict[str, str] = {"probe": "target", "explain": "text"}

__all__ = ["VARIADIC", "RunState", "namespace", "run_state", "variadic_argv"]


def namespace() -> Collection:
    from mailcert.tasks import audit, explain, fix, lab, lint, probe, verify

    ns = Collection()
    for module in (lint, probe, explain, audit, fix, verify):
        for name in dir(module):
            obj = getattr(module, name)
            if getattr(obj, "__module__", None) == module.__name__ and _is_task(obj):
                ns.add_task(obj)
    ns.add_collection(Collection.from_module(lab, name="lab"))
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

    argv = lab_argv(argv)
    ns_tasks = set(namespace().task_names)
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


def _takes_value(flag: str) -> bool:
    # Boolean flags of the variadic tasks; every other flag of theirs takes a value.
    return flag not in {"--starttls", "--implicit", "--help", "-h", "--no-color"}
