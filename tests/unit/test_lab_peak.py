"""run_measured reports the command's own peak memory, not the size of the process that started it."""

from __future__ import annotations

import sys

from mailcert.lab.peak import run_measured


def test_peak_is_the_commands_own_even_from_a_large_parent() -> None:
    ballast = bytearray(300 * 1024 * 1024)  # this process: 300 MB more, touched
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = run_measured([sys.executable, "-c", "import sys; sys.exit(3)"])
    big = run_measured(
        [sys.executable, "-c", "b = bytearray(80 * 1024 * 1024); b[::4096] = b'y' * len(b[::4096])"]
    )
    del ballast
    assert small.returncode == 3  # the command's exit code comes through the wrapper
    assert small.peak_rss_mb < 60  # a bare Python, not this process's 300 MB
    assert 80 < big.peak_rss_mb < 160
    assert big.returncode == 0 and big.cpu_s > 0
