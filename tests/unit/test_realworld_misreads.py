"""Misreads of published configurations (issue 25), each shown on the configuration that exposed it.

The configurations are read from ../shared/realworld/sources at test time (tests/realworld.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.hostfs import LocalRoot
from mailcert.model import HostReport, Mode, Report, Severity
from mailcert.report import render
from mailcert.services.dovecot.parser import parse_dovecot
from mailcert.tasks.options import check_options
from tests.pki import Issued, TestPKI
from tests.realworld import host_tree

AT = "2026-06-01T00:00:00Z"  # inside tests/pki.py's validity window


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI()


def test_sovereign_ssl_protocols_with_sslv2_is_not_converted(tmp_path: Path) -> None:
    # sovereign's 10-ssl.conf keeps Dovecot 2.2's `ssl_protocols = !SSLv2 !SSLv3`. Dovecot 2.3.19 cannot convert
    # it: `doveconf -c FILE -h ssl_min_protocol` logs "Could not find a minimum ssl_min_protocol setting from
    # ssl_protocols = !SSLv2 !SSLv3: Unrecognized protocol 'SSLv2'" and prints TLSv1.2.
    service = parse_dovecot(LocalRoot(host_tree("sovereign", tmp_path)))
    (obsolete,) = [f for f in service.findings if f.check == "config.syntax" and "ssl_protocols" in f.message]
    assert (obsolete.file, obsolete.line, obsolete.severity) == (
        "/etc/dovecot/conf.d/10-ssl.conf",
        44,
        Severity.WARNING,
    )
    assert "Unrecognized protocol" in obsolete.message and "TLSv1 " not in obsolete.message
    assert not [f for f in service.findings if f.check == "config.legacy-protocols"]
    assert {x.port: x.min_tls for x in service.listeners if x.tls_enabled} == {993: "TLSv1.2", 995: "TLSv1.2"}


def test_miab_port_reopened_in_a_later_file_is_not_an_override(tmp_path: Path) -> None:
    # Mail-in-a-Box: Debian's 10-master.conf has `port = 0`-style listener blocks, and its 99-local.conf opens
    # imap on 143 again on purpose. Not a TLS setting: SPEC limits config.overridden to those.
    service = parse_dovecot(LocalRoot(host_tree("miab", tmp_path)))
    assert [f.message for f in service.findings if f.check == "config.overridden"] == []
    assert 143 in {x.port for x in service.listeners}


def test_sovereign_protocols_after_the_protocols_d_include_is_not_an_override(tmp_path: Path) -> None:
    # sovereign sets `protocols = imap lmtp sieve pop3` after Debian's `!include_try protocols.d/*.protocol`.
    service = parse_dovecot(LocalRoot(host_tree("sovereign", tmp_path)))
    assert [f.message for f in service.findings if f.check == "config.overridden"] == []


def test_a_tls_setting_set_twice_is_still_an_override(tmp_path: Path) -> None:
    root = host_tree("sovereign", tmp_path)
    ssl_conf = root / "etc/dovecot/conf.d/10-ssl.conf"
    ssl_conf.write_text(ssl_conf.read_text() + "ssl_cert = </etc/letsencrypt/live/example.org/cert.pem\n")
    service = parse_dovecot(LocalRoot(root))
    (twice,) = [f for f in service.findings if f.check == "config.overridden"]
    assert twice.file == "/etc/dovecot/conf.d/10-ssl.conf" and "ssl_cert is set twice" in twice.message


def _lint(root: Path, pki: TestPKI, tmp_path: Path, *, roles: list[str] | None = None) -> HostReport:
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(pki.root_pem())
    options = LintOptions(
        checks=check_options(AT, [str(bundle)]),
        hostnames=["mail.example.org"],
        roles=roles,
        tree=True,
    )
    return lint_host(LocalRoot(root), name="mx1", options=options)


def _services(host: HostReport, check: str) -> set[str | None]:
    return {f.service for f in host.findings if f.check == check}


def _ports(host: HostReport, service: str) -> set[int]:
    return {e.port for e in host.endpoints if e.service == service}


def test_dms_head_dovecot_24_protocols_section_gives_the_dovecot_listeners(tmp_path: Path) -> None:
    # docker-mailserver main runs Dovecot 2.4; its protocols.d files say `protocols { imap = yes }`.
    service = parse_dovecot(LocalRoot(host_tree("dms-head", tmp_path)))
    assert service.version == "2.4"
    assert [(x.name, x.port, x.mode) for x in service.listeners] == [
        ("imap", 143, Mode.STARTTLS),
        ("imaps", 993, Mode.IMPLICIT),
    ]
    assert {s.cert_files for x in service.listeners for s in x.certificates} == {
        ("/etc/dms/tls/mail.example.org-full.pem",)
    }


def test_dms_head_leaf_only_certificate_is_found_on_dovecot_too(tmp_path: Path, pki: TestPKI) -> None:
    root = host_tree("dms-head", tmp_path)
    leaf = pki.leaf(("mail.example.org",))
    full = root / "etc/dms/tls/mail.example.org-full.pem"
    full.parent.mkdir(parents=True)
    full.write_bytes(leaf.key_pem() + leaf.pem)  # the key and the leaf only: no intermediate
    host = _lint(root, pki, tmp_path)
    assert _services(host, "config.cert-not-fullchain") == {"postfix", "dovecot"}
    assert _ports(host, "dovecot") == {143, 993}


def test_dovecot_23_protocols_assignment_is_read_as_before(tmp_path: Path) -> None:
    service = parse_dovecot(LocalRoot(host_tree("dms15", tmp_path)))
    assert service.version == "2.3"
    assert {x.port for x in service.listeners} == {143, 993}  # pop3d.protocol is disabled (.disab)


LIVE = "/etc/letsencrypt/live/mail.example.org"


def _dms15_with(tmp_path: Path, pki: TestPKI, leaf: Issued, key: bytes) -> Path:
    """docker-mailserver 15: Postfix `smtpd_tls_chain_files = privkey.pem fullchain.pem`, Dovecot the same pair."""
    root = host_tree("dms15", tmp_path)
    live = root / LIVE.lstrip("/")
    live.mkdir(parents=True)
    (live / "fullchain.pem").write_bytes(pki.bundle(leaf))
    (live / "privkey.pem").write_bytes(key)
    (live / "privkey.pem").chmod(0o600)
    return root


def test_dms15_chain_files_name_the_certificate_and_the_key_file(tmp_path: Path, pki: TestPKI) -> None:
    leaf = pki.leaf(("mail.example.org",))
    host = _lint(_dms15_with(tmp_path, pki, leaf, leaf.key_pem()), pki, tmp_path, roles=["postfix"])
    configured = {(e.configured.cert_file, e.configured.key_file) for e in host.endpoints}
    assert configured == {(f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem")}


def test_dms15_chain_files_key_mismatch_and_expiry_point_at_the_right_files(
    tmp_path: Path, pki: TestPKI
) -> None:
    expired = pki.leaf(("mail.example.org",), not_after=datetime(2026, 3, 1, tzinfo=UTC))
    other = pki.leaf(("mail.example.org",))
    host = _lint(_dms15_with(tmp_path, pki, expired, other.key_pem()), pki, tmp_path)
    mismatch = [f for f in host.findings if f.check == "key.mismatch"]
    assert {f.service for f in mismatch} == {"postfix", "dovecot"}
    for found in mismatch:
        assert found.file == f"{LIVE}/privkey.pem"
        assert (
            f"private key in {LIVE}/privkey.pem does not belong to the certificate in {LIVE}/fullchain.pem"
            in (found.message)
        )
    assert {f.file for f in host.findings if f.check == "cert.expired"} == {f"{LIVE}/fullchain.pem"}


def test_mailu_tls_on_without_a_certificate_says_none_is_configured(tmp_path: Path, pki: TestPKI) -> None:
    # Mailu's Dovecot leaves TLS to its front proxy and configures no certificate, while `ssl` stays at its
    # default (yes): the built-in imaps/pop3s listeners on 993/995 have TLS on and nothing to serve.
    host = _lint(host_tree("mailu", tmp_path), pki, tmp_path, roles=["dovecot"])
    missing = [f for f in host.findings if f.check == "cert.missing"]
    assert sorted((f.port, f.file) for f in missing) == [
        (993, "/etc/dovecot/dovecot.conf"),
        (995, "/etc/dovecot/dovecot.conf"),
    ]
    for found in missing:
        assert "no certificate is configured" in found.message and "no such file" not in found.message
    now = datetime(2026, 6, 1, tzinfo=UTC)
    sarif = json.loads(render(Report(now, now, (host,)), "sarif"))
    (rule,) = [r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "cert.missing"]
    assert "no certificate is configured" in rule["shortDescription"]["text"]


def test_dms_head_protocols_item_set_to_no_removes_the_protocol(tmp_path: Path) -> None:
    root = host_tree("dms-head", tmp_path)
    (root / "etc/dovecot/local.conf").write_text(
        "protocols {\n  imap = no\n}\n"
    )  # dovecot.conf: !include_try
    service = parse_dovecot(LocalRoot(root))
    assert service.listeners == () and service.findings == ()
    (root / "etc/dovecot/local.conf").write_text("protocols {\n  imap = maybe\n}\n")
    (bad,) = parse_dovecot(LocalRoot(root)).findings
    assert (bad.check, bad.file, bad.line) == ("config.syntax", "/etc/dovecot/local.conf", 2)
