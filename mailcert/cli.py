"""The `mailcert` console script. --version (mailcert.fastpath), lint, explain and probe and every task's
--help (mailcert.tasks.direct) run without the SSH libraries; every other command line goes to Fabric's
Program (mailcert.tasks.program)."""

from __future__ import annotations

import sys

from mailcert.fastpath import run_version

# typing.TYPE_CHECKING without importing typing at start-up (mypy takes any name TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mailcert.tasks.program import MailcertProgram


def build_program() -> MailcertProgram:
    """The Invoke/Fabric program with every task (imports Fabric, paramiko and Invoke)."""
    from mailcert.tasks import program

    return program.build_program()


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    words = list(sys.argv) if argv is None else list(argv)
    code = run_version(words)
    if code is None:
        from mailcert.tasks.direct import run_direct  # here: --version needs none of what it imports

        code = run_direct(words)
    if code is not None:
        sys.exit(code)
    import logging  # here: the direct path has no use for it

    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    return build_program().run(argv)
