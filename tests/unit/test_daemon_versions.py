"""The daemon versions a host's gather reports reach the parsers: a 2.3 dovecot.conf on a host that runs
Dovecot 2.4 is refused (doveconf 2.4.1: "The first setting must be dovecot_config_version"), and Postfix
3.10's built-in defaults are read on a 3.10 host."""

from __future__ import annotations

from pathlib import Path

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.audit.options import lint_options
from mailcert.checks.certs import CheckOptions
from mailcert.hostfs import LocalRoot
from mailcert.inventory.model import InventoryHost
from mailcert.pki.trust import TrustStore
from mailcert.services.postfix.config import PostfixConfig
from tests.pki import NOW

DOVECOT_23 = "protocols = imap\nssl = yes\nssl_cert = </etc/ssl/mail.pem\nssl_key = </etc/ssl/mail.key\n"


def _tree(tmp_path: Path) -> LocalRoot:
    conf = tmp_path / "etc/dovecot/dovecot.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(DOVECOT_23)
    return LocalRoot(tmp_path)


def _refused(tmp_path: Path, versions: dict[str, str]) -> list[str]:
    options = LintOptions(
        CheckOptions(now=NOW, trust=TrustStore.of(())), roles=("dovecot",), versions=versions
    )
    report = lint_host(_tree(tmp_path), name="mx1", options=options)
    return [f.message for f in report.findings if f.check == "config.syntax"]


def test_dovecot_version_decides_the_syntax(tmp_path: Path) -> None:
    assert _refused(tmp_path, {}) == []
    on_24 = _refused(tmp_path, {"dovecot": "2.4.1"})
    assert "requires dovecot_config_version as the first setting" in on_24[0]


def test_lint_options_carry_the_gathered_versions() -> None:
    host = InventoryHost(name="mx1", address="mx1")
    options = lint_options(host, now=NOW, trust=TrustStore.of(()), versions={"postfix": "3.10.13"})
    assert options.versions == {"postfix": "3.10.13"}
    assert lint_options(host, now=NOW, trust=TrustStore.of(())).versions == {}


def test_postfix_version_reaches_the_defaults(tmp_path: Path) -> None:
    main_cf = tmp_path / "etc/postfix/main.cf"
    main_cf.parent.mkdir(parents=True)
    main_cf.write_text("smtpd_tls_security_level = may\n")
    files = LocalRoot(tmp_path)
    assert PostfixConfig.load(files, version="3.10.13").value("tls_low_cipherlist") == ""
    assert (
        PostfixConfig.load(files).value("tls_low_cipherlist") == "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH"
    )
