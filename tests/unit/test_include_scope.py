"""Includes are followed only inside the service's own configuration folders, and at most 200 files per
service, on both paths: `lint ROOT` (LocalRoot) and gather.sh run on the same tree (audit's path)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.gather import GatheredHost
from mailcert.gather.program import gather_argv
from mailcert.hostfs import LocalRoot
from mailcert.model import Finding
from mailcert.pki.trust import TrustStore
from tests.pki import NOW

MARK = "OutsideFileContent42"


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _both_paths(root: Path) -> tuple[list[Finding], list[Finding], str]:
    """Findings of lint ROOT, findings of the same tree gathered by gather.sh, and gather.sh's output."""
    options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([])))
    local = lint_host(LocalRoot(root), name="mx", options=options)
    done = subprocess.run(gather_argv(str(root)), capture_output=True, text=True, check=True, timeout=120)
    gathered = lint_host(GatheredHost.from_output(done.stdout, name="mx"), name="mx", options=options)
    assert local.error is None and gathered.error is None, (local.error, gathered.error)
    return list(local.findings), list(gathered.findings), done.stdout


def _about(findings: list[Finding], words: str) -> list[tuple[str | None, int | None, str]]:
    return sorted((f.file, f.line, f.severity.value) for f in findings if words in f.message)


def test_an_include_outside_the_config_folders_is_a_finding_and_never_read(tmp_path: Path) -> None:
    _write(tmp_path, "/etc/dovecot/conf.d/10-ssl.conf", "!include_try ../../../root/climb.conf\n")
    _write(
        tmp_path,
        "/etc/dovecot/dovecot.conf",
        "ssl = yes\n!include /root/dovecot-extra.conf\n!include conf.d/*.conf\n",
    )
    _write(tmp_path, "/etc/exim4/exim4.conf", "primary_hostname = mail.example.test\n.include /etc/shadow\n")
    for outside in ("/root/dovecot-extra.conf", "/root/climb.conf", "/etc/shadow"):
        _write(tmp_path, outside, f"root:{MARK}:19000::\nssl_cert = <{MARK}\n")
    local, gathered, output = _both_paths(tmp_path)
    assert MARK not in output  # gather.sh sent none of the three files
    expected = [
        ("/etc/dovecot/conf.d/10-ssl.conf", 1, "warning"),
        ("/etc/dovecot/dovecot.conf", 2, "warning"),
        ("/etc/exim4/exim4.conf", 2, "warning"),
    ]
    assert _about(local, "points outside") == expected
    assert _about(gathered, "points outside") == expected
    for findings in (local, gathered):
        assert not any(
            MARK in f.message or f.file in {"/root/dovecot-extra.conf", "/etc/shadow"} for f in findings
        )


def test_more_than_200_included_files_is_a_finding_on_both_paths(tmp_path: Path) -> None:
    _write(tmp_path, "/etc/dovecot/dovecot.conf", "ssl = yes\n!include conf.d/*.conf\n")
    for number in range(230):
        _write(tmp_path, f"/etc/dovecot/conf.d/{number:03d}.conf", f"# file {number}\n")
    includes = "".join(f".include /etc/exim4/conf.d/{n:03d}\n" for n in range(230))
    _write(tmp_path, "/etc/exim4/exim4.conf", f"primary_hostname = mail.example.test\n{includes}")
    for number in range(230):
        _write(tmp_path, f"/etc/exim4/conf.d/{number:03d}", f"# part {number}\n")
    local, gathered, _output = _both_paths(tmp_path)
    assert _about(local, "more than 200") == _about(gathered, "more than 200")
    assert {f.service for f in local if "more than 200" in f.message} == {"dovecot", "exim"}


def test_includes_inside_the_folders_are_read_as_before(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "/etc/dovecot/dovecot.conf",
        "!include conf.d/*.conf\n!include_try /usr/share/dovecot/protocols.d/*.protocol\n",
    )
    _write(tmp_path, "/etc/dovecot/conf.d/10-ssl.conf", "ssl = required\nssl_cert = </etc/ssl/none.pem\n")
    _write(tmp_path, "/usr/share/dovecot/protocols.d/imapd.protocol", "protocols = $protocols imap\n")
    local, gathered, _output = _both_paths(tmp_path)
    for findings in (local, gathered):
        assert not [f for f in findings if "points outside" in f.message or "more than 200" in f.message]
        # the included ssl_cert was read: its missing file is reported
        assert any("/etc/ssl/none.pem" in f.message for f in findings), [f.message for f in findings]
