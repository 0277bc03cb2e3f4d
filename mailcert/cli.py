"""The `mailcert` console script. lint, explain and probe, every task's --help and --version run directly
(mailcert.tasks.direct), without the SSH libraries; every other command line goes to Fabric's Program
(mailcert.tasks.program)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from mailcert.tasks.direct import run_direct

if TYPE_CHECKING:
    from mailcert.tasks.program import MailcertProgram


def build_program() -> MailcertProgram:
    """The Invoke/Fabric program with every task (imports Fabric, paramiko and Invoke)."""
    from mailcert.tasks import program

    return program.build_program()


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    code = run_direct(list(sys.argv) if argv is None else list(argv))
    if code is not None:
        sys.exit(code)
    import logging  # here: the direct path has no use for it

    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    return build_program().run(argv)
