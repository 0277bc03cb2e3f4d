"""Ansible-templated configuration: `X.j2` rendered with the inventory host's variables before review;
Ansible-only filters and missing variables are reported, naming them, instead of rendering."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mailcert.audit.templates import render_tree
from mailcert.cli import main
from mailcert.inventory import load_inventory
from mailcert.inventory.templatevars import template_vars
from mailcert.model import Severity
from tests.lint_trees import LINEAGE, MAIN_CF
from tests.ops_repo import OpsRepo, needs_git

TEMPLATE = MAIN_CF.replace(
    f"/etc/letsencrypt/live/{LINEAGE}/", "/etc/letsencrypt/live/{{ mail_lineage }}/"
).replace("myhostname = mail.example.test", "myhostname = {{ inventory_hostname }}.example.test")


def test_a_template_is_rendered_with_the_hosts_variables(tmp_path: Path) -> None:
    (tmp_path / "src/etc/postfix").mkdir(parents=True)
    (tmp_path / "src/etc/postfix/main.cf.j2").write_text(TEMPLATE)
    problems = render_tree(
        tmp_path / "src", tmp_path / "out", {"mail_lineage": LINEAGE, "inventory_hostname": "mx1"}
    )
    assert problems == []
    text = (tmp_path / "out/etc/postfix/main.cf").read_text()
    assert (
        f"/etc/letsencrypt/live/{LINEAGE}/fullchain.pem" in text and "myhostname = mx1.example.test" in text
    )
    assert not (tmp_path / "out/etc/postfix/main.cf.j2").exists()


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("smtpd_tls_cert_file = {{ mail_lineage | regex_replace('a', 'b') }}\n", "filter 'regex_replace'"),
        ("{% if mail_lineage is match('mail') %}x = y{% endif %}\n", "test 'match'"),
        ("smtpd_tls_cert_file = {{ cert_path }}\n", "'cert_path' is undefined"),
    ],
)
def test_what_only_ansible_can_render_is_reported_by_name(tmp_path: Path, line: str, named: str) -> None:
    (tmp_path / "src/etc/postfix").mkdir(parents=True)
    (tmp_path / "src/etc/postfix/main.cf.j2").write_text("# head\n" + line)
    (problem,) = render_tree(tmp_path / "src", tmp_path / "out", {"mail_lineage": LINEAGE})
    assert problem.check == "config.template-unrenderable" and problem.severity is Severity.UNKNOWN
    assert named in problem.message
    assert (problem.file, problem.line) == ("/etc/postfix/main.cf.j2", 2)
    assert not (tmp_path / "out/etc/postfix/main.cf").exists()


def test_review_renders_both_commits_with_the_inventory_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs_git()
    repo = OpsRepo(tmp_path / "repo")
    (repo.root / "hosts/mx1/etc/postfix/main.cf").unlink()
    repo.write("hosts/mx1/etc/postfix/main.cf.j2", TEMPLATE)
    repo.write("inventory/host_vars/mx1.yml", f"mail_lineage: {LINEAGE}\n")
    base = repo.commit("postfix main.cf as an Ansible template")
    repo.edit(
        "hosts/mx1/etc/postfix/main.cf.j2", "{{ mail_lineage }}/fullchain.pem", "{{ mail_lineage }}/cert.pem"
    )
    repo.commit("postfix: the leaf alone")
    cwd = Path.cwd()
    os.chdir(repo.root)
    try:
        with pytest.raises(SystemExit) as done:
            main(
                [
                    "mailcert",
                    "review",
                    "--git",
                    base,
                    "hosts/mx1",
                    "--vars-from",
                    "mx1",
                    "-I",
                    "inventory",
                    "--format",
                    "json",
                ]
            )
    finally:
        os.chdir(cwd)
    assert done.value.code == 2
    host = json.loads(capsys.readouterr().out)["hosts"][0]
    assert [(f["check"], f["file"]) for f in host["introduced"] if f["severity"] == "critical"] == [
        ("config.cert-not-fullchain", "/etc/postfix/main.cf")
    ]


def test_template_variables_keep_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(
        "all:\n  hosts:\n    mx1:\n      ansible_become_password: hunter2\n      mail_lineage: x\n"
    )
    variables = template_vars(load_inventory(tmp_path).host("mx1"))
    assert variables["mail_lineage"] == "x" and variables["inventory_hostname"] == "mx1"
    assert "hunter2" not in repr(variables)
