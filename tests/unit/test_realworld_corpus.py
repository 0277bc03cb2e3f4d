"""`lint ROOT` over the published configurations of ../shared/realworld/sources (issue 25).

Each configuration is laid out as the host tree its installer leaves (tests/realworld.py) and linted as
`mailcert lint ROOT` does (a tree: absent certificate files are `config.file-not-in-tree`, info). A healthy
configuration gives no critical finding and only the warnings listed here, each with its reason. Faults
planted into copies made at test time are found on every service that uses the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.hostfs import LocalRoot
from mailcert.model import HostReport, Severity
from mailcert.services.model import CertSource
from mailcert.services.registry import detect_roles, parser_for
from mailcert.tasks.options import check_options
from tests.pki import TestPKI
from tests.realworld import CONFIGS, host_tree

AT = "2026-06-01T00:00:00Z"  # inside tests/pki.py's validity window

Expected = dict[tuple[str, str, str, int], str]  # (check, service, file, line) -> why it is right

# Warnings a healthy published configuration rightly gets (anything else is a false alarm).
WARNINGS: dict[str, Expected] = {
    "mailu": {
        ("config.syntax", "dovecot", "/etc/dovecot/dovecot.conf", 238): (
            "!include /overrides/dovecot.conf is Mailu's runtime override hook outside /etc/dovecot: not read"
        ),
        ("config.plaintext-auth", "dovecot", "/etc/dovecot/dovecot.conf", 98): (
            "disable_plaintext_auth = no: Dovecot itself takes passwords on 143/110 before STARTTLS"
        ),
    },
    "miab": {
        ("config.legacy-protocols", "postfix", "/etc/postfix/main.cf", 62): (
            "smtpd_tls_protocols = !SSLv2,!SSLv3 keeps TLS 1.0/1.1 on port 25 (kept on purpose for old MTAs)"
        ),
        ("config.syntax", "dovecot", "/etc/dovecot/conf.d/10-ssl.conf", 91): (
            "ssl_dh_parameters_length: doveconf 2.3 warns 'Obsolete setting'"
        ),
    },
    "modoboa": {
        ("config.plaintext-auth", "postfix", "/etc/postfix/main.cf", 95): (
            "smtpd_sasl_auth_enable = yes in main.cf without smtpd_tls_auth_only: AUTH before STARTTLS on 25"
        ),
    },
    "sovereign": {
        ("config.legacy-protocols", "postfix", "/etc/postfix/main.cf", 42): (
            "smtpd_tls_protocols = !SSLv2,!SSLv3 keeps TLS 1.0/1.1 on port 25"
        ),
        ("config.legacy-protocols", "postfix", "/etc/postfix/main.cf", 39): (
            "smtpd_tls_mandatory_protocols = !SSLv2,!SSLv3 keeps TLS 1.0/1.1 on submission (587)"
        ),
        ("config.syntax", "dovecot", "/etc/dovecot/conf.d/10-ssl.conf", 44): (
            "ssl_protocols (Dovecot 2.2): doveconf 2.3 warns 'Obsolete setting' and cannot convert !SSLv2"
        ),
        ("config.syntax", "dovecot", "/etc/dovecot/conf.d/10-ssl.conf", 53): (
            "ssl_dh_parameters_length: doveconf 2.3 warns 'Obsolete setting'"
        ),
    },
    "exim-rebrain": {
        ("config.plaintext-auth", "dovecot", "/etc/dovecot/conf.d/10-auth.conf", 10): (
            "disable_plaintext_auth = no: passwords accepted on 143/110 before STARTTLS"
        ),
    },
}

# Critical findings that are true of a published configuration (not false alarms), with why.
CRITICALS: dict[str, Expected] = {
    "mailu": {
        ("cert.missing", "dovecot", "/etc/dovecot/dovecot.conf", 133): (
            "Mailu's front proxy does TLS; Dovecot keeps ssl = yes (default) and no certificate, so its built-in "
            "imaps listener has nothing to serve (unpublished port in Mailu's compose file)"
        ),
        (
            "cert.missing",
            "dovecot",
            "/etc/dovecot/dovecot.conf",
            144,
        ): "the same for the built-in pop3s (995)",
    },
}


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI()


def lint(root: Path, pki: TestPKI, tmp_path: Path, hostnames: Sequence[str] | None = None) -> HostReport:
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(pki.root_pem())
    options = LintOptions(checks=check_options(AT, [str(bundle)]), hostnames=hostnames, tree=True)
    return lint_host(LocalRoot(root), name=root.name, options=options)


def at_severity(host: HostReport, severity: Severity) -> set[tuple[str, str, str, int]]:
    return {
        (f.check, f.service or "", f.file or "", f.line or 0) for f in host.findings if f.severity is severity
    }


@pytest.mark.parametrize("config", CONFIGS)
def test_a_published_configuration_lints_without_false_alarms(
    config: str, pki: TestPKI, tmp_path: Path
) -> None:
    host = lint(host_tree(config, tmp_path), pki, tmp_path)
    assert host.endpoints or config == "mailu"  # Mailu's front proxy does all client TLS
    assert at_severity(host, Severity.CRITICAL) == set(CRITICALS.get(config, {}))
    assert at_severity(host, Severity.WARNING) == set(WARNINGS.get(config, {}))
    assert at_severity(host, Severity.UNKNOWN) == set()


def _sources(root: Path) -> dict[str, list[CertSource]]:
    """Every certificate source of every TLS listener, by service."""
    files = LocalRoot(root)
    out: dict[str, list[CertSource]] = {}
    for role in detect_roles(files):
        for listener in parser_for(role)(files).listeners:
            if listener.tls_enabled:
                sni = [s.source for s in listener.sni]
                out.setdefault(listener.service, []).extend([*listener.certificates, *sni])
    return out


def _plant(root: Path, sources: dict[str, list[CertSource]], pki: TestPKI, fault: str) -> None:
    """Certificate files at every path the configuration names; `leaf-only`: no intermediate anywhere;
    `wrong-key`: every key file holds the key of another certificate."""
    leaf = pki.leaf(("mail.example.org",))
    other = pki.leaf(("mail.example.org",))
    key = (other if fault == "wrong-key" else leaf).key_pem()
    chain = leaf.pem if fault == "leaf-only" else pki.bundle(leaf)
    all_sources = [s for found in sources.values() for s in found]
    key_files = {s.private_key_file for s in all_sources} - {None}
    cert_files = {s.leaf_file for s in all_sources} - {None}
    for path in sorted(key_files | cert_files, key=str):
        assert path is not None
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        body = (key if path in key_files else b"") + (chain if path in cert_files else b"")
        target.write_bytes(body)
        target.chmod(0o600)


PLANTED_CHECK = {"leaf-only": "config.cert-not-fullchain", "wrong-key": "key.mismatch"}


@pytest.mark.parametrize("fault", sorted(PLANTED_CHECK))
@pytest.mark.parametrize("config", [c for c in CONFIGS if c != "mailu"])  # Mailu: no certificate anywhere
def test_a_planted_certificate_fault_is_found_on_every_service_using_the_file(
    config: str, fault: str, pki: TestPKI, tmp_path: Path
) -> None:
    root = host_tree(config, tmp_path)
    sources = _sources(root)
    assert sources, f"{config}: no TLS listener with a certificate"
    _plant(root, sources, pki, fault)
    host = lint(root, pki, tmp_path, hostnames=["mail.example.org"])
    found = {f.service for f in host.findings if f.check == PLANTED_CHECK[fault]}
    assert found == set(sources), [f for f in host.findings if f.severity is Severity.CRITICAL]


POSTFIX_FULLCHAIN = ["dms15", "modoboa", "sovereign"]  # main.cf names certbot's live/NAME/fullchain.pem


@pytest.mark.parametrize("config", POSTFIX_FULLCHAIN)
def test_cert_pem_instead_of_fullchain_in_postfix_main_cf(config: str, pki: TestPKI, tmp_path: Path) -> None:
    root = host_tree(config, tmp_path)
    main_cf = root / "etc/postfix/main.cf"
    main_cf.write_text(main_cf.read_text().replace("/fullchain.pem", "/cert.pem"))
    host = lint(root, pki, tmp_path)
    (found,) = [f for f in host.findings if f.check == "config.cert-not-fullchain"]
    assert (found.service, found.file, found.severity) == (
        "postfix",
        "/etc/postfix/main.cf",
        Severity.CRITICAL,
    )


# Dovecot 2.3 files whose ssl_cert reads `<path` (the service that uses them: Dovecot alone).
DOVECOT_SSL_CERT = {
    "debian12": "etc/dovecot/conf.d/10-ssl.conf",
    "dms15": "etc/dovecot/conf.d/10-ssl.conf",
    "exim-rebrain": "etc/dovecot/conf.d/10-ssl.conf",
    "iredmail": "etc/dovecot/dovecot.conf",
    "mailcow": "etc/dovecot/dovecot.conf",
    "modoboa": "etc/dovecot/conf.d/10-ssl-keys.try",
    "sovereign": "etc/dovecot/conf.d/10-ssl.conf",
    "yunohost": "etc/dovecot/dovecot.conf",
}


@pytest.mark.parametrize("config", sorted(DOVECOT_SSL_CERT))
def test_dovecot_ssl_cert_without_lt(config: str, pki: TestPKI, tmp_path: Path) -> None:
    root = host_tree(config, tmp_path)
    conf = root / DOVECOT_SSL_CERT[config]
    text, count = re.subn(r"(?m)^(\s*ssl_cert\s*=\s*)<", r"\1", conf.read_text(), count=1)
    assert count == 1
    conf.write_text(text)
    host = lint(root, pki, tmp_path)
    missing = [f for f in host.findings if f.check == "config.dovecot-missing-lt"]
    assert {(f.service, f.file, f.severity) for f in missing} == {
        ("dovecot", "/" + DOVECOT_SSL_CERT[config], Severity.CRITICAL)
    }
