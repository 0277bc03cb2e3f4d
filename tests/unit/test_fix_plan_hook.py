"""The certbot deploy hook the plan installs: rendered from roles/certbot, valid sh, reloads exactly the
services of the renewed lineage when run (checked by running it with stand-in daemons' commands), and
recognised by mailcert's own renewal check. Roles from the working directory override the packaged ones."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mailcert.fix.apply.payload import reloads, validations
from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan
from mailcert.fix.roles import default_paths, load_roles
from mailcert.services.certbot.hooks import POSTMAP_F, reload_actions
from tests.fix_trees import plan
from tests.lint_trees import HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
LINEAGE_DIR = "/etc/letsencrypt/live/mail.example.test"


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    return HostTree(tmp_path / "host", PKI)


POSTCONF = ("sh", "-c", "postconf >/dev/null")


def hook_text(tree: HostTree) -> str:
    result = plan(tree, PKI)
    hooks = [c for c in result.changes if c.kind is ChangeKind.CREATE and c.file]
    assert len(hooks) == 1
    assert hooks[0].file is not None
    assert hooks[0].file.path == "/etc/letsencrypt/renewal-hooks/deploy/mailcert-reload"
    return hooks[0].file.after


def run_hook(tmp_path: Path, text: str, lineage: str | None) -> list[str]:
    """Run the hook with stand-ins for the daemons' commands that log how they were called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    log.write_text("")
    for name in ("systemctl", "postfix", "doveadm", "postmap"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n')
        stub.chmod(0o755)
    script = tmp_path / "hook.sh"
    script.write_text(text)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    if lineage is not None:
        env["RENEWED_LINEAGE"] = lineage
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines()


def _reloaded(calls: list[str]) -> set[str]:
    names = set()
    for call in calls:
        words = call.split()
        if words[:2] == ["systemctl", "reload"]:
            names.update(words[2:])
        elif words[1:] == ["reload"]:
            names.add({"postfix": "postfix", "doveadm": "dovecot"}[words[0]])
    return names


def test_hook_reloads_the_services_of_the_renewed_lineage_only(tree: HostTree, tmp_path: Path) -> None:
    scenarios.no_reload_hook(tree)
    text = hook_text(tree)
    assert subprocess.run(["sh", "-n"], input=text, text=True, check=False).returncode == 0
    assert _reloaded(run_hook(tmp_path, text, LINEAGE_DIR)) == {"postfix", "dovecot"}
    assert run_hook(tmp_path, text, "/etc/letsencrypt/live/other.example.test") == []
    assert _reloaded(run_hook(tmp_path, text, None)) == {"postfix", "dovecot"}  # run by hand: everything
    # what mailcert's own renewal check reads from it (so a second run finds it)
    assert reload_actions(text) == {"postfix", "dovecot"}


def test_hook_rebuilds_postfix_sni_tables(tree: HostTree, tmp_path: Path) -> None:
    scenarios.sni_map_not_rebuilt(tree)
    text = hook_text(tree)
    calls = run_hook(tmp_path, text, LINEAGE_DIR)
    assert "postmap -F hash:/etc/postfix/sni" in calls
    assert calls.index("postmap -F hash:/etc/postfix/sni") < min(
        i for i, c in enumerate(calls) if "reload" in c and ("postfix" in c)
    )
    assert reload_actions(text) >= {"postfix", POSTMAP_F}


def test_working_directory_roles_override_packaged_ones(tree: HostTree, tmp_path: Path) -> None:
    local = tmp_path / "ops" / "roles"
    (local / "postfix").mkdir(parents=True)
    (local / "postfix" / "role.yml").write_text("reload:\n  command: [/usr/local/sbin/postfix-safe-reload]\n")
    roles = load_roles([*default_paths()[:1], local])
    scenarios.leaf_only(tree)
    result = plan(tree, PKI, roles=roles)
    reload = result.changes[-1]
    assert reload.command is not None and reload.command.argv == ("/usr/local/sbin/postfix-safe-reload",)
    # keys the override leaves out keep the packaged values
    assert [c.argv for c in result.validations] == [("postfix", "check"), POSTCONF]


def test_a_template_error_is_a_plan_error_not_a_traceback(tree: HostTree, tmp_path: Path) -> None:
    local = tmp_path / "ops" / "roles" / "certbot"
    (local / "templates").mkdir(parents=True)
    (local / "templates" / "deploy-hook.sh.j2").write_text("#!/bin/sh\n{{ lineages[0].__class__.__mro__ }}\n")
    roles = load_roles([*default_paths()[:1], local.parent])
    scenarios.no_reload_hook(tree)
    result = plan(tree, PKI, roles=roles)
    assert result.changes == ()
    assert result.error is not None and "cannot render template" in result.error


def test_packaged_roles_cover_every_service() -> None:
    roles = load_roles(default_paths()[:1])
    assert {"postfix", "dovecot", "exim", "cpanel", "certbot"} <= set(roles.roles)
    assert roles.role("postfix").validate == (("postfix", "check"), POSTCONF)
    assert roles.role("dovecot").validate == (("doveconf", "-n"),)
    assert roles.role("exim").validate == (("exim", "-bV"),)
    assert roles.role("dovecot").reload_argv(systemd=False) == ("doveadm", "reload")
    assert roles.role("postfix").reload_argv(systemd=True) == ("systemctl", "reload", "postfix")
    # cPanel's restarts happen inside its WHM API step (fix/plan/cpanel.py), never as a generic reload
    assert roles.role("cpanel").validate == () and roles.role("cpanel").reload_argv(systemd=True) == ()


def test_validate_and_reload_come_from_role_yml_only(tmp_path: Path) -> None:
    """An override that empties postfix's validate leaves no `postfix check` in the switch (issue 20)."""
    local = tmp_path / "roles"
    (local / "postfix").mkdir(parents=True)
    (local / "postfix" / "role.yml").write_text("validate: []\n")
    roles = load_roles([*default_paths()[:1], local])
    edit = Change(ChangeKind.EDIT, "e", file=FileChange("/etc/postfix/main.cf", "a\n", "b\n"))
    reload = Change(ChangeKind.RELOAD, "r", service="dovecot")
    plan_ = HostPlan("mx", (edit, reload))
    assert validations(plan_, roles) == (("doveconf -n", "doveconf -n"),)
    assert [label for _, label in validations(plan_)] == [
        "postfix check",
        "sh -c 'postconf >/dev/null'",
        "doveconf -n",
    ]
    ((text, label),) = reloads(plan_, roles)
    assert label == "reload of dovecot"
    assert text == (
        "if [ -d /run/systemd/system ] && systemctl is-active --quiet dovecot.service; "
        "then systemctl reload dovecot; else doveadm reload; fi"
    )


@pytest.mark.skipif(shutil.which("dash") is None and os.geteuid() != 0, reason="dash is not installed here")
def test_hook_is_posix_sh(tree: HostTree) -> None:
    scenarios.no_reload_hook(tree)
    text = hook_text(tree)
    done = subprocess.run(["dash", "-n"], input=text, text=True, check=False, env=dict(os.environ))
    assert done.returncode == 0
