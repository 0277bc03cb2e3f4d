"""`fab TASK...` in a checkout runs the same tasks as the `mailcert` console script, with SPEC's exit codes."""

import sys

import fabric.main
from invoke.exceptions import Exit

from mailcert.errors import MailcertError
from mailcert.tasks import namespace, run_state

ns = namespace()


def _execute_with_spec_exit_codes(execute=fabric.main.program.execute):  # type: ignore[no-untyped-def]
    """Fab ends a successful run with 0; mailcert's contract is 0/1/2/3 by what was found, and a one-line
    error (exit 3) instead of a traceback. Wraps the running `fab` program's execute step once."""

    def execute_tasks() -> None:
        run_state().reset()
        try:
            execute()
        except MailcertError as exc:
            print(f"mailcert: {exc.line()}", file=sys.stderr)
            raise Exit(code=3) from None
        if run_state().exit_code:
            raise Exit(code=run_state().exit_code)

    return execute_tasks


if getattr(fabric.main.program, "_mailcert_wrapped", False) is False:
    fabric.main.program.execute = _execute_with_spec_exit_codes()
    fabric.main.program._mailcert_wrapped = True
