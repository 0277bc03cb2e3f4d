"""`review --against HOST` on a real lab host over SSH: the tree's change judged with the host's real
certificates, and nothing on the host changed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.fixture import Lab

pytestmark = pytest.mark.lab

HOST = "mx1"


def _snapshot(root: Path) -> dict[str, str]:
    files = [
        p for folder in ("etc/postfix", "etc/dovecot", "etc/letsencrypt") for p in (root / folder).rglob("*")
    ]
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(files)
        if p.is_file() and not p.is_symlink()
    }


def _ops_trees(lab: Lab, tmp_path: Path) -> tuple[Path, Path]:
    """The host's Postfix and Dovecot configuration as an ops repository keeps it: no certificates."""
    root = lab.root(HOST)
    trees = tmp_path / "base", tmp_path / "head"
    for tree in trees:
        for folder in ("etc/postfix", "etc/dovecot"):
            shutil.copytree(root / folder, tree / folder, symlinks=True)
    return trees


def test_review_against_a_lab_host_shows_what_clients_would_get(lab_session: Lab, tmp_path: Path) -> None:
    lab = lab_session
    base, head = _ops_trees(lab, tmp_path)
    lineage = lab.host(HOST).lineage
    main_cf = head / "etc/postfix/main.cf"
    text = main_cf.read_text()
    assert f"live/{lineage}/fullchain.pem" in text
    main_cf.write_text(text.replace(f"live/{lineage}/fullchain.pem", f"live/{lineage}/cert.pem"))
    before = _snapshot(lab.root(HOST))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailcert",
            "review",
            str(base),
            str(head),
            "--against",
            HOST,
            "-I",
            str(lab.inventory),
            "--ca-bundle",
            str(lab.ca_bundle),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    host = json.loads(done.stdout)["hosts"][0]
    introduced = {(f["check"], f["service"]) for f in host["introduced"] if f["severity"] == "critical"}
    # decided from the host's real cert.pem (the leaf alone), not from the path: the intermediate is not served
    assert ("config.cert-not-fullchain", "postfix") in introduced
    assert all(service == "postfix" for _, service in introduced)
    assert not [f for f in host["unchanged"] if f["check"] in ("config.file-not-in-tree", "cert.missing")]
    assert host["base_status"] == "ok"
    assert _snapshot(lab.root(HOST)) == before  # read-only: nothing on the host changed
