"""Exim on the lab's configuration (mailcert.lab.kinds.exim.exim_conf) with the lab's Exim faults planted
the way mailcert.lab.faults plants them: the plan repairs each, and a second run has nothing to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailcert.fix.model import ChangeKind
from mailcert.lab.kinds.exim import exim_conf
from mailcert.lab.layout import LabHost
from tests.fix_trees import apply_locally, inventory_host, lint, plan, problems, read
from tests.lint_trees import HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
EXIM_CONF = "/etc/exim4/exim4.conf"


@pytest.fixture
def lab_host(tmp_path: Path) -> LabHost:
    return LabHost(name="mx1", kind="exim", address="10.0.0.2", lab_dir=tmp_path / "lab")


@pytest.fixture
def tree(tmp_path: Path, lab_host: LabHost) -> HostTree:
    """An Exim-only host with the lab's config and a certbot lineage for the lab host's names."""
    tree = HostTree(tmp_path / "root", PKI, leaf=PKI.leaf(list(lab_host.hostnames)))
    for path in ("/etc/postfix", "/etc/dovecot"):
        for child in sorted(tree.path(path).rglob("*"), reverse=True):
            child.unlink()
        tree.path(path).rmdir()
    tree.lineage(lab_host.lineage, PKI.leaf(list(lab_host.hostnames)))
    tree.write(EXIM_CONF, exim_conf(lab_host))
    tree.write("/etc/group", "root:x:0:\nDebian-exim:x:105:\n")
    return tree


def _planted(tree: HostTree, pattern: str, replacement: str) -> None:
    text = read(tree, EXIM_CONF)
    changed, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count == 1
    tree.write(EXIM_CONF, changed)


# the lab's own fault edits (mailcert/lab/faults.py), for Exim hosts
FAULTS = {
    "leaf-only": (r"^(tls_certificate = .*/)fullchain\.pem$", r"\1cert.pem"),
    "wrong-mode-587": (r"^tls_on_connect_ports = 465$", "tls_on_connect_ports = 465 : 587"),
    "wrong-mode-465": (r"^(tls_on_connect_ports = .*)$", r"# \1"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_lab_exim_fault_fixed_and_second_run_empty(tree: HostTree, lab_host: LabHost, fault: str) -> None:
    names = list(lab_host.hostnames)
    host = inventory_host(names)
    assert problems(lint(tree, PKI, names)[0]) == set(), "the lab's healthy Exim host lints clean"
    _planted(tree, *FAULTS[fault])
    assert problems(lint(tree, PKI, names)[0]) != set()
    result = plan(tree, PKI, host)
    assert result.error is None
    assert [c.kind for c in result.changes] == [ChangeKind.EDIT, ChangeKind.RELOAD]
    apply_locally(tree, PKI, result)
    if fault != "wrong-mode-465":  # (465: the commented-out line stays, see below)
        assert read(tree, EXIM_CONF) == exim_conf(lab_host), "the lab's original line is back"
    assert problems(lint(tree, PKI, names)[0]) == set()
    assert plan(tree, PKI, host).changes == ()


def test_465_restored_next_to_daemon_smtp_ports(tree: HostTree, lab_host: LabHost) -> None:
    _planted(tree, *FAULTS["wrong-mode-465"])
    result = plan(tree, PKI, inventory_host(list(lab_host.hostnames)))
    assert result.changes[0].file is not None
    after = result.changes[0].file.after
    assert (
        "daemon_smtp_ports = 25 : 465 : 587\ntls_on_connect_ports = 465\n# tls_on_connect_ports = 465\n"
        in after
    )
