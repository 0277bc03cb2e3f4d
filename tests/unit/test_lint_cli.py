"""`mailcert lint` as a user runs it: exit codes per SPEC, formats, and bad input as one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lint_trees import LIVE, NAMES, HostTree
from tests.pki import TestPKI

PKI = TestPKI()


def mailcert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailcert", *args], capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    tree = HostTree(tmp_path / "mx1", PKI)
    (tmp_path / "ca.pem").write_bytes(PKI.root_pem())
    return tree


def lint_args(tree: HostTree, *extra: str) -> list[str]:
    names = [arg for name in NAMES for arg in ("--hostname", name)]
    return [
        "lint",
        str(tree.root),
        *names,
        "--ca-bundle",
        str(tree.root.parent / "ca.pem"),
        "--at",
        "2026-06-01T00:00:00Z",
        *extra,
    ]


def test_healthy_tree_exits_0(tree: HostTree) -> None:
    done = mailcert(*lint_args(tree))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_warning_only_exits_1_and_critical_exits_2(tree: HostTree) -> None:
    tree.path(f"/etc/letsencrypt/archive/{LIVE.rsplit('/', 1)[1]}/privkey1.pem").chmod(
        0o644
    )  # key.permissions
    assert mailcert(*lint_args(tree)).returncode == 1
    tree.edit("/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", f"{LIVE}/cert.pem")
    assert mailcert(*lint_args(tree)).returncode == 2


def test_json_report_follows_spec(tree: HostTree) -> None:
    tree.edit("/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", f"{LIVE}/cert.pem")
    done = mailcert(*lint_args(tree, "--format", "json"))
    report = json.loads(done.stdout)
    assert report["schema"] == "mailcert/1"
    assert report["status"] == "critical"
    (host,) = report["hosts"]
    assert set(host) == {"name", "status", "error", "endpoints", "findings"}
    finding = next(f for f in host["findings"] if f["check"] == "config.cert-not-fullchain")
    assert finding["file"] == "/etc/postfix/main.cf"
    assert finding["line"] == 5  # smtpd_tls_cert_file is the fifth line of the tree's main.cf
    assert set(finding["symptoms"]) == {"outlook", "outlook_flag", "apple", "thunderbird", "android"}
    assert "PRIVATE KEY" not in done.stdout


def test_output_file_and_sarif(tree: HostTree, tmp_path: Path) -> None:
    tree.edit("/etc/dovecot/dovecot.conf", f"ssl_cert = <{LIVE}", f"ssl_cert = {LIVE}")
    out = tmp_path / "lint.sarif"
    done = mailcert(*lint_args(tree, "--format", "sarif", "--output", str(out)))
    assert done.returncode == 2
    assert done.stdout == ""
    sarif = json.loads(out.read_text())
    results = sarif["runs"][0]["results"]
    hit = next(r for r in results if r["ruleId"] == "config.dovecot-missing-lt")
    location = hit["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("etc/dovecot/dovecot.conf")
    assert location["region"]["startLine"] == 3


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["lint", "/nonexistent/root"], "is not a directory"),
        (["lint", "."], "no Postfix, Dovecot or Exim configuration found"),
        (["lint", ".", "--at", "yesterday"], "ISO-8601"),
        (["lint", ".", "--ca-bundle", "/nonexistent.pem"], "cannot read CA bundle"),
        (["lint", ".", "--format", "pdf"], "format"),
        (["lint", ".", "--role", "sendmail"], "unknown role"),
        (["nosuchtask"], "No idea"),
    ],
)
def test_bad_usage_is_one_line_and_exit_3(tmp_path: Path, args: list[str], says: str) -> None:
    args = [str(tmp_path) if a == "." else a for a in args]
    done = mailcert(*args)
    assert done.returncode == 3
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_binary_junk_in_configs_never_tracebacks(tree: HostTree) -> None:
    tree.write("/etc/postfix/main.cf", b"\xff\xfe\x00junk = \x80\x81\nsmtpd_tls_cert_file = \x00/x\n" * 50)
    tree.write("/etc/dovecot/dovecot.conf", b"\x00\x01{{{ ssl_cert = <\xff\n}" * 30)
    tree.write(f"/etc/letsencrypt/renewal/{NAMES[0]}.conf", b"\x89PNG\r\n\x1a\n\x00\x00")
    done = mailcert(*lint_args(tree, "--format", "json"))
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (1, 2), done.stderr
    json.loads(done.stdout)


def test_broken_user_config_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".mailcert.yaml").write_text("x: [unclosed\n")
    done = subprocess.run(
        [sys.executable, "-m", "mailcert", "lint", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"mailcert: {home}/.mailcert.yaml:2: configuration file is not valid YAML — fix or remove it"
    ]


@pytest.mark.parametrize(
    "argv",
    [["lint", "--help"], ["lint", "-h"], ["lab", "exec", "--help"], ["audit", "fix", "--help"]],
    ids=" ".join,
)
def test_help_after_a_task_shows_that_tasks_help(argv: list[str]) -> None:
    """`mailcert lint --help` took --help as ROOT ("ROOT --help is not a directory")."""
    done = mailcert(*argv)
    task = {"lab": "lab.exec", "audit": "fix"}.get(argv[0], argv[0])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: mailcert [--core-opts] {task} [--options]"), done.stdout[:300]


def test_help_words_after_a_lab_commands_separator_belong_to_the_command() -> None:
    from mailcert.tasks import variadic_argv

    argv = ["mailcert", "lab", "exec", "mx1", "--", "postconf", "--help"]
    assert variadic_argv(argv)[:3] == ["mailcert", "lab.exec", "mx1"]
