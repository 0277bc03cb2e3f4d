"""A syntax finding names the file and line of a line a secret rule covers, never its bytes (an included
shadow line appeared verbatim in a report). Linted from a local tree; every report format checked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.hostfs import LocalRoot
from mailcert.model import Finding, Report
from mailcert.pki.trust import TrustStore
from tests.hostile.reports import check_all_formats
from tests.pki import NOW

SHADOW_HASH = "Q2hKZWNrVGhpc0hhc2gxMjM0"
SHADOW_LINE = f"root:$6$saltsalt${SHADOW_HASH}:19000:0:99999:7:::"


def _lint(root: Path) -> tuple[list[Finding], str]:
    options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([])))
    host = lint_host(LocalRoot(root), name="mx-secret", options=options)
    assert host.error is None, host.error
    rendered = check_all_formats(Report(generated_at=datetime.now(UTC), evaluated_at=NOW, hosts=(host,)))
    return list(host.findings), "\n".join(rendered.values())


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _syntax_at(findings: list[Finding], file: str, line: int) -> Finding:
    found = [f for f in findings if f.check == "config.syntax" and f.file == file and f.line == line]
    assert found, [(f.check, f.file, f.line, f.message) for f in findings]
    return found[0]


def test_a_shadow_line_in_dovecot_and_postfix_is_named_not_quoted(tmp_path: Path) -> None:
    _write(tmp_path, "/etc/postfix/main.cf", f"myhostname = mail.example.test\n{SHADOW_LINE}\n")
    _write(tmp_path, "/etc/dovecot/dovecot.conf", f"ssl = yes\n\n{SHADOW_LINE}\n")
    findings, rendered = _lint(tmp_path)
    assert "this line (not shown" in _syntax_at(findings, "/etc/dovecot/dovecot.conf", 3).message
    assert "not shown" in _syntax_at(findings, "/etc/postfix/main.cf", 2).message
    assert SHADOW_HASH not in rendered


def test_an_ordinary_bad_line_is_still_quoted(tmp_path: Path) -> None:
    """The admin needs to see a broken line that holds nothing secret."""
    _write(
        tmp_path, "/etc/postfix/main.cf", "myhostname = mail.example.test\nsmtpd_tls_cert_file /etc/x.pem\n"
    )
    _write(tmp_path, "/etc/dovecot/dovecot.conf", "ssl = yes\nssl_cert </etc/ssl/mail.pem\n")
    findings, _rendered = _lint(tmp_path)
    assert "'smtpd_tls_cert_file /etc/x.pem'" in _syntax_at(findings, "/etc/postfix/main.cf", 2).message
    assert "`ssl_cert </etc/ssl/mail.pem`" in _syntax_at(findings, "/etc/dovecot/dovecot.conf", 2).message


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("_mail:$6$saltsalt$EximOptionHash99", "EximOptionHash99"),  # "option setting expected: ..."
        ("LDAP_URL ldap://exim:ExImMacroPw@ldap.example.org", "ExImMacroPw"),  # malformed macro definition
    ],
)
def test_a_secret_line_exim_refuses_is_named_not_quoted(tmp_path: Path, line: str, secret: str) -> None:
    _write(tmp_path, "/etc/exim4/exim4.conf", f"primary_hostname = mail.example.test\n{line}\n")
    findings, rendered = _lint(tmp_path)
    assert "not shown" in _syntax_at(findings, "/etc/exim4/exim4.conf", 2).message
    assert secret not in rendered
