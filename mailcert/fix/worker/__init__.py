"""The host side of `fix`: apply.sh (lock, detached switch, restore) and the argument lists that run it."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from mailcert.gather.program import redaction_block

PROGRAM_NAME = "mailcert-apply"
# apply.sh's exit statuses (documented at its top; tests/unit check they match): the control side tells these
# outcomes apart by the status, never by what the program prints.
EXIT_OK = 0
EXIT_FAILED = 2  # refused or failed: "mailcert-apply: WHY" on stderr
EXIT_NO_RECORD = 3  # restore/wait: no record of the run for this host (never ran or started here, or pruned)
EXIT_BUSY = 4  # hold: another live run holds the host lock; "busy OTHER PID SINCE" on stderr
REDACT_SLOT = "# @mailcert-redact@\n"


@cache
def apply_script() -> str:
    """The POSIX sh program, as shipped in the package, with gather.sh's redaction rule put in its place."""
    text = resources.files("mailcert.fix.worker").joinpath("apply.sh").read_text(encoding="utf-8")
    if REDACT_SLOT not in text:
        raise RuntimeError("apply.sh has no place for the redaction rule")  # a packaging bug
    return text.replace(REDACT_SLOT, redaction_block(), 1)


@cache
def kept_runs() -> int:
    """How many run records of a host a switch keeps at least (apply.sh's KEEP_RUNS, its one source)."""
    found = re.search(r"^KEEP_RUNS=(\d+)$", apply_script(), re.MULTILINE)
    if found is None:
        raise RuntimeError("apply.sh sets no KEEP_RUNS")  # a packaging bug, caught by the unit tests
    return int(found.group(1))


def apply_argv(action: str, state_dir: str, run_id: str = "", host: str = "", *args: str) -> list[str]:
    """`sh -c PROGRAM mailcert-apply ACTION STATE RUN HOST ARGS...` as an argument list (sudo or shlex.join)."""
    for value in (state_dir, run_id, host, *args):
        if "\x00" in value:
            raise ValueError("NUL in an argument of the apply program")
    if not state_dir.startswith("/") or "\n" in state_dir:
        raise ValueError(f"mailcert_state_dir must be an absolute path, got {state_dir!r}")
    return ["sh", "-c", apply_script(), PROGRAM_NAME, action, state_dir, run_id, host, *args]
