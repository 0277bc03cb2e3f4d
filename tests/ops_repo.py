"""A fixture ops repository as teams keep them: configuration trees under hosts/, an inventory, no certificates.

`OpsRepo` builds it with git at test time; each step is one commit, like the history of a real repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lint_trees import DOVECOT_CONF, LIVE, MAIN_CF, MASTER_CF

INVENTORY = """\
all:
  hosts:
    mx1:
      ansible_host: 192.0.2.25
      mailcert_hostnames: [mail.example.test, imap.example.test]
"""
# A finding every commit keeps (TLS 1.0 still accepted by Dovecot): it must never be reported as new.
DOVECOT_LEGACY = DOVECOT_CONF.replace("ssl_min_protocol = TLSv1.2", "ssl_min_protocol = TLSv1")

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "ops",
    "GIT_AUTHOR_EMAIL": "ops@example.test",
    "GIT_COMMITTER_NAME": "ops",
    "GIT_COMMITTER_EMAIL": "ops@example.test",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


class OpsRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.write("hosts/mx1/etc/postfix/main.cf", MAIN_CF)
        self.write("hosts/mx1/etc/postfix/master.cf", MASTER_CF)
        self.write("hosts/mx1/etc/dovecot/dovecot.conf", DOVECOT_LEGACY)
        self.write("inventory/hosts.yml", INVENTORY)
        self.commits = [self.commit("mx1: postfix and dovecot configuration")]

    def git(self, *args: str) -> str:
        env = {**os.environ, **_GIT_ENV}
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=env, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.root / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1))

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        sha = self.git("rev-parse", "HEAD")
        return sha

    def checkout(self, sha: str) -> None:
        self.git("checkout", "-q", "--detach", sha)


def needs_git() -> None:
    """git builds the fixture history: skipped only off CI (not root); as root its absence is a failure."""
    if shutil.which("git") is None:
        if os.geteuid() != 0:
            pytest.skip("git is not installed (scripts/install-system-deps installs it as root)")
        pytest.fail("git missing although running as root: run scripts/install-system-deps")


def build_history(repo: OpsRepo) -> list[str]:
    """The fixture's history after the first commit; returns every commit, oldest first."""
    header = "# managed in git; see README\n# owner: mail team\n# last reviewed: 2026-11\n"
    for relative in ("hosts/mx1/etc/postfix/main.cf", "hosts/mx1/etc/dovecot/dovecot.conf"):
        text = (repo.root / relative).read_text()
        repo.write(relative, header + text)
    repo.commits.append(repo.commit("comments on top: every line moves down by three"))
    repo.edit("hosts/mx1/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", f"{LIVE}/cert.pem")
    repo.commits.append(repo.commit("postfix: serve cert.pem (the leaf alone)"))
    repo.edit("hosts/mx1/etc/postfix/main.cf", f"{LIVE}/cert.pem", f"{LIVE}/fullchain.pem")
    repo.edit("hosts/mx1/etc/dovecot/dovecot.conf", f"<{LIVE}/privkey.pem", f"<{LIVE}-0001/privkey.pem")
    repo.commits.append(repo.commit("postfix back to fullchain; dovecot: key of the -0001 lineage"))
    return repo.commits
