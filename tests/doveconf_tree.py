"""A corpus tree as doveconf reads it: a copy whose absolute `!include` paths point into the copy.

Shared by the Dovecot oracles (2.3 on this machine, 2.4 from the Debian 13 root): `Doveconf(root, copy,
command)` runs `COMMAND -c COPY/etc/dovecot/dovecot.conf ARGS`, and `fatal()` reads the error doveconf stopped
on, with the file named as on the host (the copy's prefix removed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

CONF = "/etc/dovecot/dovecot.conf"

_FATAL = re.compile(r"Error in configuration file (\S+?)(?: line (\d+))?: (.*)")
_STARTED = re.compile(r"section started at (\S+):(\d+)")


def materialise(corpus: Path, case: str, dest: Path) -> Path:
    """The corpus tree (over its BASE tree, if it names one) as a ROOT folder."""
    base = corpus / case / "BASE"
    if base.exists():
        shutil.copytree(corpus / base.read_text().strip(), dest, dirs_exist_ok=True)
    shutil.copytree(corpus / case, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("BASE"))
    return dest


class Doveconf:
    """doveconf on a copy of ROOT whose absolute !include paths point into the copy."""

    def __init__(self, root: Path, copy: Path, command: Sequence[str] = ("doveconf",)) -> None:
        shutil.copytree(root, copy, symlinks=True)
        for path in (copy / "etc").rglob("*"):
            if path.is_file() and not path.is_symlink():
                text = path.read_text(errors="surrogateescape")
                fixed = re.sub(
                    r"^(\s*!include(?:_try)?\s+)/", lambda m: f"{m.group(1)}{copy}/", text, flags=re.M
                )
                if fixed != text:
                    path.write_text(fixed, errors="surrogateescape")
        self.copy = copy
        self.conf = str(copy) + CONF
        self.command = tuple(command)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, "-c", self.conf, *args], capture_output=True, text=True, timeout=60
        )

    def host_path(self, path: str) -> str:
        return path.removeprefix(str(self.copy))


def fatal(doveconf: Doveconf, stderr: str) -> tuple[str, int | None, str] | None:
    """(file, line, message) of the fatal configuration error doveconf printed, if any."""
    for line in stderr.splitlines():
        found = _FATAL.search(line)
        if found and "Fatal" in line:
            file, number, message = found.groups()
            started = _STARTED.search(message)
            if started:
                file, number = started.groups()
            return doveconf.host_path(file), int(number) if number else None, message
    return None
