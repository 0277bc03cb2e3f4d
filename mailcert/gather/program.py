"""The remote gather program (gather.sh) and the one shell command that runs it on a host."""

from __future__ import annotations

import shlex
from functools import cache
from importlib import resources

SCRIPT_NAME = "mailcert-gather"


@cache
def gather_script() -> str:
    """The POSIX sh program, as shipped in the package."""
    return resources.files("mailcert.gather").joinpath("gather.sh").read_text(encoding="utf-8")


REDACT_BEGIN = "# >>> mailcert-redact"
REDACT_END = "# <<< mailcert-redact"


@cache
def redaction_block() -> str:
    """gather.sh's redaction functions (`redact`, `strip_blocks`), verbatim: apply.sh runs the same rule over
    the real file before it applies an edit made to the redacted text."""
    script = gather_script()
    start = script.find(REDACT_BEGIN)
    end = script.find(REDACT_END, start)
    if start < 0 or end < 0:
        raise RuntimeError(
            "gather.sh has no mailcert-redact block"
        )  # a packaging bug, caught by the unit tests
    return script[start : end + len(REDACT_END)] + "\n"


def gather_argv(root: str = "/", state_dir: str | None = None) -> list[str]:
    """`sh -c SCRIPT mailcert-gather ROOT [STATE]` as an argument list (for sudo, or joined for an SSH exec).
    STATE, `fix`'s state folder on the host, is read for runs whose worker died (records "unfinished")."""
    if not root.startswith("/") or "\x00" in root or "\n" in root:
        raise ValueError(f"gather root must be an absolute path, got {root!r}")
    if state_dir is None:
        return ["sh", "-c", gather_script(), SCRIPT_NAME, root]
    if not state_dir.startswith("/") or "\x00" in state_dir or "\n" in state_dir:
        raise ValueError(f"state folder must be an absolute path, got {state_dir!r}")
    return ["sh", "-c", gather_script(), SCRIPT_NAME, root, state_dir]


def gather_command(root: str = "/", state_dir: str | None = None) -> str:
    """The gather program as one shell command line, every word quoted."""
    return shlex.join(gather_argv(root, state_dir))
