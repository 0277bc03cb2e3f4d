"""A rollback puts back the owner and mode a plan's chmod/chown changed (issue 18 follow-up 3), on this
machine as root: the switch records them before the command runs, a failed switch and a later rollback
restore them, and the chmod is not run again after a restore."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan
from tests.integration.test_fix_links import switch
from tests.integration.test_fix_remote import hold, program, release

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the apply program runs as root on hosts")
NOBODY = 65534


@pytest.fixture
def key(tmp_path: Path) -> Path:
    keys = tmp_path / "keys"
    keys.mkdir()
    path = keys / "mail.key"
    path.write_text("KEY\n")
    os.chown(path, NOBODY, NOBODY)
    path.chmod(0o644)
    return path


def owner_mode(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


def key_plan(key: Path, check: str = "true") -> HostPlan:
    main = key.parent / "main.cf"
    main.write_text("a = 1\n")
    return HostPlan(
        "local",
        (
            Change(ChangeKind.EDIT, "e", file=FileChange(str(main), "a = 1\n", "a = 2\n")),
            Change(ChangeKind.COMMAND, "chown", command=Command(("chown", "root:root", str(key)))),
            Change(ChangeKind.COMMAND, "chmod", command=Command(("chmod", "600", str(key)))),
        ),
        validations=(Command(("sh", "-c", check)),),
    )


def test_a_failed_switch_puts_the_keys_owner_and_mode_back(key: Path, tmp_path: Path) -> None:
    said = switch(tmp_path / "state", "R1", key_plan(key, check="exit 3"))
    assert said[0] == "rolled-back"
    assert owner_mode(key) == (NOBODY, NOBODY, 0o644)
    assert (key.parent / "main.cf").read_text() == "a = 1\n"


def test_a_later_rollback_puts_the_keys_owner_and_mode_back(key: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert switch(state, "R2", key_plan(key))[0] == "applied"
    assert owner_mode(key) == (0, 0, 0o600)
    holder, _ = hold(state, "R2")
    try:
        undone = program(state, "restore", "R2", "rolled back by hand")
    finally:
        release(holder)
    assert undone.stdout.splitlines() == ["rolled-back", "rolled back by hand"]
    assert owner_mode(key) == (NOBODY, NOBODY, 0o644)
    assert key.read_text() == "KEY\n"
