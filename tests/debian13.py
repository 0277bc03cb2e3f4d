"""Run one program of the Debian 13 root (Postfix 3.10, Dovecot 2.4) on this Debian 12 machine.

The root built by scripts/install-debian13 (mailcert.lab.systemroot.debian13_root()) has its /usr
bind-mounted over /usr in a private mount namespace (`unshare --mount`) for the one command; the machine is
merged-/usr, so /bin, /lib and /lib64 follow, while /etc, /tmp and the test's files stay the machine's.
Values travel as arguments only: the `sh -c` script is fixed and takes the root as $0, the command as "$@".

Policy: off CI (not root) the tests that need it are skipped; as root (CI) a missing root is a failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from mailcert.lab.systemroot import debian13_installed, debian13_root

_IN_ROOT = 'mount --bind "$0/usr" /usr && exec "$@"'
PROGRAMS = (
    "usr/sbin/postconf",
    "usr/sbin/postmap",
    "usr/bin/doveconf",
    "usr/sbin/dovecot",
    "usr/bin/doveadm",
)


def require_debian13() -> Path:
    """The Debian 13 root, ready to run its programs; skips when not root, fails as root when it is missing."""
    if os.geteuid() != 0:
        pytest.skip("running Debian 13's programs needs root (a private mount namespace); CI runs as root")
    root = debian13_root()
    missing = [p for p in PROGRAMS if not (root / p).is_file()]
    if not debian13_installed() or missing:
        pytest.fail(
            f"the Debian 13 root {root} is not built (missing: {', '.join(missing) or 'its marker'}): "
            "run scripts/install-debian13"
        )
    return root


def debian13_argv(command: Sequence[str]) -> list[str]:
    """The argument list that runs `command` with Debian 13's /usr."""
    return ["unshare", "--mount", "sh", "-c", _IN_ROOT, str(debian13_root()), *command]


def run_debian13(command: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `command` (an argument list) with Debian 13's /usr; the result, whatever its exit status."""
    return subprocess.run(
        debian13_argv(command), capture_output=True, text=True, check=False, timeout=timeout
    )
