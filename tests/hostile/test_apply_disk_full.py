"""The host-side apply program (apply.sh) on a full disk, on this machine (root: real tmpfs mounts): the
state folder too small for the backups, and the written folder full. The file ends byte-identical, the
status is true and says why in one line, and no partial copy or temp file is left behind."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcert.fix.apply.payload import switch_payload
from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan
from mailcert.fix.remote import PAYLOAD_MARK
from mailcert.fix.worker import apply_argv

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs; CI runs tests as root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 128 KiB tmpfs at tmp_path/small, unmounted afterwards whatever happens."""
    folder = tmp_path / "small"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "mailcert-test", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def switch(state: Path, plan: HostPlan) -> str:
    """Take the lock, run the switch with the payload as the control side sends it, release; the status."""
    holder = subprocess.Popen(
        apply_argv("hold", str(state), "R1"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdin is not None and holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    try:
        done = subprocess.run(
            apply_argv("switch", str(state), "R1", "local"),
            input=f"{PAYLOAD_MARK}\n{switch_payload(plan)}",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def sums(folder: Path) -> dict[str, str]:
    return {
        p.name: f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.stat().st_mode:o}"
        for p in sorted(folder.iterdir())
    }


def edit(path: Path, after: str) -> HostPlan:
    change = Change(ChangeKind.EDIT, "edit", file=FileChange(str(path), path.read_text(), after))
    return HostPlan("local", (change,))


def test_a_state_folder_too_small_for_the_backup_stops_before_any_write(
    tmp_path: Path, small_disk: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    big = site / "big.cf"
    big.write_text("x = 1\n" * 50_000)  # 300 kB: the payload fits in the state folder, its backup does not
    before = sums(site)

    said = switch(small_disk, edit(big, "x = 2\n"))

    assert said == f"rolled-back\ncannot back up {big}: No space left on device\n"
    assert sums(site) == before
    assert list((small_disk / "runs" / "R1@local" / "files").iterdir()) == []  # no partial copy kept


def test_a_full_folder_where_the_file_is_written_restores_nothing_and_says_why(
    tmp_path: Path, small_disk: Path
) -> None:
    conf = small_disk / "main.cf"
    conf.write_text("x = 1\n")
    with (small_disk / "filler").open("wb", buffering=0) as filler:  # every byte of the folder taken
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError:
            pass
    before = sums(small_disk)

    said = switch(tmp_path / "state", edit(conf, "x = 2\n" * 2000))

    assert said == f"rolled-back\ncannot write {conf}: No space left on device\n"
    assert sums(small_disk) == before  # no temp file left, the file untouched
