"""`fix` end to end on lab hosts whose main.cf is a symbolic link, as config-management setups make it
(issue 18 follow-up 1): the planner resolves the link when it plans, the host writes the file the link
leads to and the link stays; a link into a folder a non-root user owns is refused naming that owner, and
nothing is written. One fix run over both hosts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mailcert.lab.kinds.postfix import MAIN_CF
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import fix_inventory
from tests.lab.test_fix_cli import last_json, mailcert

pytestmark = pytest.mark.lab

NOBODY = 65534
ROOTS_HOST, USERS_HOST = "mx1", "mx2"
ROOTS_REAL = "/etc/mailconf/main.cf"  # a folder root owns (mode 755)
USERS_REAL = "/etc/userconf/main.cf"  # a folder the user nobody owns


def link_main_cf(lab: Lab, host: str, real: str, owner: int) -> tuple[Path, Path]:
    """Move HOST's main.cf to REAL (its folder owned by OWNER) and leave a link to it in its place."""
    link = lab.host(host).path(MAIN_CF)
    target = lab.host(host).path(real)
    target.parent.mkdir(mode=0o755)
    os.chown(target.parent, owner, owner)
    shutil.move(link, target)
    link.symlink_to(real)
    return link, target


def unlink_main_cf(link: Path, target: Path) -> None:
    if link.is_symlink():
        link.unlink()
    if target.exists():
        shutil.move(target, link)
    shutil.rmtree(target.parent, ignore_errors=True)


def test_fix_writes_the_file_a_link_leads_to_and_refuses_one_in_a_users_folder(
    lab: Lab, tmp_path: Path
) -> None:
    lab.plant(ROOTS_HOST, "leaf-only")
    lab.plant(USERS_HOST, "leaf-only")
    inventory = str(fix_inventory(lab, tmp_path))
    roots_link, roots_target = link_main_cf(lab, ROOTS_HOST, ROOTS_REAL, 0)
    users_link, users_target = link_main_cf(lab, USERS_HOST, USERS_REAL, NOBODY)
    users_text = users_target.read_text()
    assert "/cert.pem" in users_text
    try:
        done = mailcert(
            "-I", inventory, "fix", "--limit", f"{ROOTS_HOST},{USERS_HOST}", "-y", "--format", "json"
        )
        report = last_json(done.stdout)
        roots_is_link = roots_link.is_symlink() and os.readlink(roots_link) == ROOTS_REAL
        roots_text = roots_target.read_text()
        users_is_link = users_link.is_symlink() and os.readlink(users_link) == USERS_REAL
        users_after = users_target.read_text()
    finally:
        unlink_main_cf(roots_link, roots_target)
        unlink_main_cf(users_link, users_target)
        lab.changed(ROOTS_HOST)
        lab.changed(USERS_HOST)

    entries = {(e["host"], e["kind"]): e for e in report["plan"]}
    roots_edit = entries[(ROOTS_HOST, "edit")]
    assert roots_edit["outcome"] == "applied", report["plan"]
    assert roots_edit["path"] == ROOTS_REAL
    assert f"{MAIN_CF} is a link to {ROOTS_REAL}; the edit writes there" in roots_edit["description"]
    assert roots_is_link
    assert "/fullchain.pem" in roots_text and "/cert.pem" not in roots_text

    users_edit = entries[(USERS_HOST, "edit")]
    assert users_edit["outcome"] == "rolled-back", report["plan"]
    said = done.stdout + done.stderr
    assert (
        f"refusing to write {USERS_REAL}: the folder /etc/userconf can be written by a user other than root "
        "(owner nobody, group nogroup, mode 755)"
    ) in said
    assert users_is_link
    assert users_after == users_text  # nothing written
    assert done.returncode == 2  # mx2's critical finding stays
