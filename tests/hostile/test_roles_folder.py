"""A roles folder's validate and reload commands run as root on every host: only a folder named explicitly
(`--roles DIR`, `mailcert_roles_dir`), owned by the invoking user or root and writable by nobody else,
overrides the packaged roles; a `roles/` that merely sits in the working directory is not read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailcert.cli import build_program
from mailcert.errors import MailcertError
from mailcert.fix.roles import load_roles, roles_for, warn_unnamed_roles_folder
from mailcert.inventory import load_inventory
from tests.integration.sshd_fixture import NEEDS_ROOT, free_port

EVIL = ["sh", "-c", "touch /tmp/mailcert-roles-pwned"]


def _roles(base: Path, mode: int = 0o755) -> Path:
    role = base / "roles/postfix"
    role.mkdir(parents=True)
    (role / "role.yml").write_text("validate:\n  - [sh, -c, 'touch /tmp/mailcert-roles-pwned']\n")
    for path in (base / "roles", role, role / "role.yml"):
        path.chmod(mode if path.is_dir() else mode & 0o666)
    return base / "roles"


def test_roles_in_the_working_directory_are_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _roles(tmp_path)
    monkeypatch.chdir(tmp_path)
    packaged = (("postfix", "check"), ("sh", "-c", "postconf >/dev/null"))
    assert load_roles().role("postfix").validate == packaged  # the packaged commands
    assert roles_for(None).role("postfix").validate == packaged


def test_unread_roles_folder_in_the_working_directory_gets_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _roles(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert warn_unnamed_roles_folder(None) is True
    assert warn_unnamed_roles_folder("roles") is False  # named: it is used, nothing to warn about
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not read" in err[0] and "--roles roles" in err[0]


def test_a_named_safe_roles_folder_overrides_the_packaged_role(tmp_path: Path) -> None:
    folder = _roles(tmp_path)
    assert roles_for(str(folder)).role("postfix").validate == (tuple(EVIL),)
    assert roles_for(str(folder)).role("postfix").reload_command == ("postfix", "reload")  # kept


@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_a_group_or_world_writable_roles_folder_is_refused(tmp_path: Path, mode: int) -> None:
    folder = _roles(tmp_path, mode)
    with pytest.raises(MailcertError) as caught:
        roles_for(str(folder))
    line = caught.value.line()
    assert "not safe to use" in line and "writable by group or others" in line and "\n" not in line


def test_a_writable_file_inside_a_safe_folder_is_refused(tmp_path: Path) -> None:
    folder = _roles(tmp_path)
    (folder / "postfix/role.yml").chmod(0o666)
    with pytest.raises(MailcertError, match=r"role\.yml is writable by group or others"):
        roles_for(str(folder))


@NEEDS_ROOT
def test_a_roles_folder_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    folder = _roles(tmp_path)
    os.chown(folder / "postfix", 65534, 65534)
    with pytest.raises(MailcertError, match="owned by uid 65534"):
        roles_for(str(folder))


def test_mailcert_roles_dir_is_relative_to_the_inventory(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  vars:\n    mailcert_roles_dir: ops/roles\n  hosts:\n    mx1:\n")
    (host,) = load_inventory(str(inventory)).hosts
    assert host.roles_dir == str(tmp_path / "ops/roles")


def test_fix_with_an_unsafe_roles_folder_stops_before_any_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _roles(tmp_path, 0o777)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        f"all:\n  hosts:\n    mx-down:\n      ansible_host: 127.0.0.1\n      ansible_port: {free_port()}\n"
    )
    with pytest.raises(SystemExit) as exited:
        build_program().run(["mailcert", "fix", "-I", str(inventory), "--dry-run", "--roles", str(folder)])
    captured = capsys.readouterr()
    assert exited.value.code == 3
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "not safe to use" in lines[0] and "Traceback" not in captured.err
    assert "mx-down" not in captured.out + captured.err  # no host was audited


def test_a_symlinked_folder_inside_is_checked_too(tmp_path: Path) -> None:
    folder = _roles(tmp_path / "safe")
    elsewhere = tmp_path / "elsewhere/dovecot"
    elsewhere.mkdir(parents=True)
    (elsewhere / "role.yml").write_text("validate:\n  - [sh, -c, 'touch /tmp/mailcert-roles-pwned']\n")
    (elsewhere / "role.yml").chmod(0o666)
    (folder / "dovecot").symlink_to(elsewhere)
    with pytest.raises(MailcertError, match=r"roles/dovecot/role\.yml is writable by group or others"):
        roles_for(str(folder))


def test_a_roles_folder_under_a_writable_parent_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "shared"
    parent.mkdir()
    folder = _roles(parent)
    parent.chmod(0o777)  # anyone could swap the roles folder for their own
    with pytest.raises(MailcertError, match="shared is writable by group or others"):
        roles_for(str(folder))
    parent.chmod(0o1777)  # sticky, as /tmp: others cannot rename what is ours
    assert roles_for(str(folder)).role("postfix").validate == (tuple(EVIL),)
