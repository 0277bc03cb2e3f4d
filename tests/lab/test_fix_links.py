"""No root write `fix` did not plan, on a lab host over SSH (issue 18, point 5): a link swapped in after the
plan is not written through; a file in a folder a non-root user owns is refused naming folder and owner."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mailcert.fix.apply.host import apply_host, new_run_id
from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan, Outcome
from mailcert.lab.kinds.postfix import MAIN_CF
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import HOST, as_gathered, inventory_host, recheck

NOBODY = 65534


def test_a_link_swapped_in_after_the_plan_and_a_users_folder_are_refused(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)
    host = inventory_host(lab, tmp_path)
    main_cf = lab.host(HOST).path(MAIN_CF)
    text = main_cf.read_text()
    users = lab.host(HOST).path("/etc/postfix/users")
    users.mkdir()
    (users / "relay.cf").write_text("x = 1\n")
    os.chown(users, NOBODY, NOBODY)
    users.chmod(0o755)
    plan = HostPlan(
        HOST,
        (
            Change(
                ChangeKind.EDIT,
                "main",
                file=FileChange(MAIN_CF, as_gathered(text), as_gathered(text) + "# mailcert\n"),
            ),
            Change(
                ChangeKind.EDIT, "relay", file=FileChange("/etc/postfix/users/relay.cf", "x = 1\n", "x = 2\n")
            ),
            Change(ChangeKind.RELOAD, "reload", service="postfix"),
        ),
    )
    before = recheck(host)
    # after the plan: main.cf becomes a link to a file elsewhere (what a root write would then replace)
    elsewhere = lab.host(HOST).path("/etc/postfix/main.cf.elsewhere")
    main_cf.rename(elsewhere)
    main_cf.symlink_to("/etc/postfix/main.cf.elsewhere")
    try:
        linked = apply_host(host, plan, run_id=new_run_id(), before=before, recheck=None)
        assert {c.outcome for c in linked.plan.changes} == {Outcome.ROLLED_BACK}
        assert linked.message is not None
        assert linked.message.startswith(
            f"refusing to write {MAIN_CF}: {MAIN_CF} is a symbolic link (to /etc/postfix/main.cf.elsewhere)"
        )
        assert elsewhere.read_text() == text
    finally:
        main_cf.unlink()
        elsewhere.rename(main_cf)

    try:
        owned = apply_host(host, plan, run_id=new_run_id(), before=before, recheck=None)
        relay_after = (users / "relay.cf").read_text()
    finally:
        shutil.rmtree(users)

    assert {c.outcome for c in owned.plan.changes} == {Outcome.ROLLED_BACK}
    assert owned.message is not None
    assert owned.message.startswith(
        "refusing to write /etc/postfix/users/relay.cf: the folder /etc/postfix/users can be written by a user "
        "other than root (owner nobody, group nogroup, mode 755)"
    )
    assert main_cf.read_text() == text  # nothing written, main.cf included
    assert relay_after == "x = 1\n"
