"""No root write the plan did not mean (issue 18, point 5), on this machine as root: a symbolic link in the
path (swapped in after the plan) is never written through, a file in a folder a non-root user can write is
refused naming the folder and its owner, and the same holds for the chmod the plan runs on a key file and
for a later restore. Nothing is written on a refusal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailcert.fix.apply.payload import switch_payload
from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan
from tests.integration.test_fix_remote import facts, hold, program, release

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the apply program runs as root on hosts")
NOBODY = 65534


def switch(state: Path, run_id: str, plan: HostPlan) -> list[str]:
    holder, _ = hold(state, run_id)
    try:
        done = program(state, "switch", run_id, stdin=switch_payload(plan))
    finally:
        release(holder)
    return done.stdout.splitlines()


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "main.cf").write_text("a = 1\n")
    return folder


def test_a_link_swapped_in_after_the_plan_is_not_written_through(etc: Path, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"  # what a link could point a root write at
    secret.write_text("root:x:0:0\n")
    main = etc / "main.cf"
    plan = HostPlan(
        "local", (Change(ChangeKind.EDIT, "e", file=FileChange(str(main), "a = 1\n", "a = 2\n")),)
    )
    main.unlink()
    main.symlink_to(secret)
    shadow_before = facts(secret)

    said = switch(tmp_path / "state", "R1", plan)

    assert said[0] == "rolled-back"
    assert said[1] == (
        f"refusing to write {main}: {main} is a symbolic link (to {secret}) that mailcert did not plan to "
        "write through — write the file it points to by hand, or point the configuration at the real file"
    )
    assert facts(secret) == shadow_before
    assert main.is_symlink()


def test_a_link_in_a_folder_of_the_path_is_refused_too(etc: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "main.cf").write_text("a = 1\n")
    (etc / "conf").symlink_to(real)
    plan = HostPlan(
        "local",
        (Change(ChangeKind.EDIT, "e", file=FileChange(str(etc / "conf" / "main.cf"), "a = 1\n", "a = 2\n")),),
    )
    said = switch(tmp_path / "state", "R1", plan)
    assert said[0] == "rolled-back"
    assert f"{etc / 'conf'} is a symbolic link (to {real})" in said[1]
    assert (real / "main.cf").read_text() == "a = 1\n"


@pytest.mark.parametrize(
    ("owner", "mode", "who"),
    [
        ((NOBODY, 0), 0o755, "owner nobody"),  # a folder the user owns
        ((0, NOBODY), 0o775, "group nogroup"),  # group-writable, not root's group
        ((0, 0), 0o757, "mode 757"),  # writable by anyone
    ],
)
def test_a_file_in_a_folder_a_non_root_user_can_write_is_refused_naming_it(
    etc: Path, tmp_path: Path, owner: tuple[int, int], mode: int, who: str
) -> None:
    users = etc / "users"
    users.mkdir()
    (users / "relay.cf").write_text("x = 1\n")
    os.chown(users, *owner)
    users.chmod(mode)
    before = facts(users / "relay.cf")
    plan = HostPlan(
        "local",
        (
            Change(ChangeKind.EDIT, "e", file=FileChange(str(users / "relay.cf"), "x = 1\n", "x = 2\n")),
            Change(ChangeKind.CREATE, "c", file=FileChange(str(users / "new.cf"), None, "y\n", mode=0o600)),
        ),
    )
    said = switch(tmp_path / "state", "R1", plan)
    assert said[0] == "rolled-back"
    assert said[1].startswith(
        f"refusing to write {users / 'relay.cf'}: the folder {users} can be written by a user other than root"
    )
    assert who in said[1]
    assert facts(users / "relay.cf") == before
    assert not (users / "new.cf").exists()


def test_a_root_group_writable_folder_and_a_sticky_tmp_are_fine(etc: Path, tmp_path: Path) -> None:
    etc.chmod(0o775)  # group root may write: root's own
    plan = HostPlan(
        "local", (Change(ChangeKind.EDIT, "e", file=FileChange(str(etc / "main.cf"), "a = 1\n", "a = 2\n")),)
    )
    assert switch(tmp_path / "state", "R1", plan)[0] == "applied"  # tmp_path sits in /tmp (mode 1777)
    assert (etc / "main.cf").read_text() == "a = 2\n"


def test_the_chmod_of_a_key_in_a_users_folder_or_through_a_link_is_refused(etc: Path, tmp_path: Path) -> None:
    keys = etc / "keys"
    keys.mkdir()
    key = keys / "mail.key"
    key.write_text("KEY\n")
    key.chmod(0o644)
    os.chown(keys, NOBODY, 0)
    plan = HostPlan(
        "local", (Change(ChangeKind.COMMAND, "chmod", command=Command(("chmod", "600", str(key)))),)
    )
    said = switch(tmp_path / "state", "R1", plan)
    assert said[0] == "rolled-back"
    assert said[1].startswith(
        f"refusing to change {key}: the folder {keys} can be written by a user other than root"
    )
    assert key.stat().st_mode & 0o777 == 0o644

    os.chown(keys, 0, 0)
    target = tmp_path / "other"
    target.write_text("x\n")
    target.chmod(0o644)
    key.unlink()
    key.symlink_to(target)
    said = switch(tmp_path / "state", "R2", plan)
    assert said[0] == "rolled-back"
    assert f"{key} is a symbolic link (to {target})" in said[1]
    assert target.stat().st_mode & 0o777 == 0o644

    key.unlink()
    key.write_text("KEY\n")
    key.chmod(0o644)
    assert switch(tmp_path / "state", "R3", plan)[0] == "applied"
    assert key.stat().st_mode & 0o777 == 0o600


def test_a_restore_does_not_write_through_a_link_swapped_in_after_the_switch(
    etc: Path, tmp_path: Path
) -> None:
    main = etc / "main.cf"
    plan = HostPlan(
        "local", (Change(ChangeKind.EDIT, "e", file=FileChange(str(main), "a = 1\n", "a = 2\n")),)
    )
    state = tmp_path / "state"
    assert switch(state, "R1", plan)[0] == "applied"
    victim = tmp_path / "victim"
    victim.write_text("v\n")
    main.unlink()
    main.symlink_to(victim)
    holder, _ = hold(state, "R1")
    try:
        undone = program(state, "restore", "R1", "by hand")
    finally:
        release(holder)
    status, reason = undone.stdout.splitlines()[:2]
    assert status == "failed"
    assert f"could not restore: {main} ({main} is a symbolic link (to {victim})" in reason
    assert victim.read_text() == "v\n"


def test_a_state_folder_not_owned_by_root_is_refused(tmp_path: Path) -> None:
    """Run records hold the program the worker runs and the test-only pause files: no other user's folder."""
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, NOBODY, 0)
    said = program(state, "hold", "R1")
    assert said.returncode == 2
    assert said.stderr.strip() == (
        f"mailcert-apply: the state folder {state} is not root's own folder (owner nobody): make it root's, "
        "or set mailcert_state_dir to one"
    )
    assert not (state / "lock").exists()


def test_an_edit_the_planner_resolved_writes_the_target_and_is_refused_once_the_link_moved(
    etc: Path, tmp_path: Path
) -> None:
    srv = tmp_path / "srv"
    srv.mkdir()
    real = srv / "main.cf"
    real.write_text("a = 1\n")
    other = srv / "other.cf"
    other.write_text("a = 1\n")
    link = etc / "linked.cf"
    link.symlink_to(real)

    def plan() -> HostPlan:
        change = FileChange(str(real), "a = 1\n", "a = 2\n", link=str(link))
        return HostPlan("local", (Change(ChangeKind.EDIT, "e", file=change),))

    assert switch(tmp_path / "state", "R1", plan())[0] == "applied"
    assert real.read_text() == "a = 2\n"
    assert link.is_symlink() and os.readlink(link) == str(real)

    real.write_text("a = 1\n")
    link.unlink()
    link.symlink_to(other)  # config management moved the link after the plan was made
    said = switch(tmp_path / "state", "R2", plan())
    assert said[0] == "rolled-back"
    assert said[1] == (
        f"refusing to edit {real} through {link}: {link} now leads to {other}, not to the file mailcert "
        "planned to edit — run mailcert fix again"
    )
    assert real.read_text() == "a = 1\n"
    assert other.read_text() == "a = 1\n"
