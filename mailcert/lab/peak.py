"""Run a command and measure ITS peak memory and CPU (benchmarks and the load test).

Linux counts the memory a child had before exec() into its peak RSS (ru_maxrss), so a child forked straight
from a large process (a long pytest run, a benchmark holding results) reports that process's size. The command
runs under a small Python wrapper instead: the wrapper forks from ~10 MB, waits, and writes the command's own
ru_maxrss and CPU seconds to a file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class Measured:
    returncode: int
    peak_rss_mb: float
    cpu_s: float


def run_measured(
    argv: Sequence[str], *, stderr: int | IO[str] = subprocess.DEVNULL, limit_s: float = 600
) -> Measured:
    """Run argv (argv[0] an absolute path) with no stdin and stdout; a run longer than limit_s is killed."""
    with tempfile.TemporaryDirectory(prefix="mailcert-peak-") as folder:
        out = Path(folder) / "usage"
        child = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, str(out), *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        killer = threading.Timer(limit_s, os.killpg, (child.pid, signal.SIGKILL))
        killer.start()
        try:
            code = child.wait()
        finally:
            killer.cancel()
        maxrss, cpu = out.read_text().split() if out.exists() else ("0", "0")
        return Measured(code, int(maxrss) / 1024, float(cpu))
