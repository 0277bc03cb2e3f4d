"""Checks on configured certificate and key files, built as real trees under a ROOT (what lint reads)."""

import os
from pathlib import Path

import pytest

from mailcert.catalogue import Where
from mailcert.checks.certs import CheckOptions
from mailcert.checks.files import FileCache, check_cert_source
from mailcert.hostfs import LocalRoot
from mailcert.model import Severity
from mailcert.pki.trust import TrustStore
from mailcert.services.model import CertSource, Location, PemLayout
from tests.pki import NOW, TestPKI, cert_pem, key_pem, new_key

LIVE = "/etc/letsencrypt/live/mail.example.test"
NAMES = ["mail.example.test"]


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI()


@pytest.fixture(scope="module")
def opts(pki: TestPKI) -> CheckOptions:
    return CheckOptions(now=NOW, trust=TrustStore.of([pki.root.cert]))


def write(root: Path, host_path: str, data: bytes, mode: int = 0o644) -> None:
    target = root / host_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    os.chmod(target, mode)


def run(
    root: Path, source: CertSource, opts: CheckOptions, names: list[str] = NAMES
) -> list[tuple[str, str | None]]:
    result = check_cert_source(source, FileCache(LocalRoot(root)), names, opts, Where(service="postfix"))
    return sorted((f.check, f.file) for f in result.findings)


def separate(
    cert: str = f"{LIVE}/fullchain.pem", key: str | None = f"{LIVE}/privkey.pem", **kw: object
) -> CertSource:
    return CertSource(
        cert_files=(cert,),
        key_file=key,
        setting="smtpd_tls_cert_file",
        key_setting="smtpd_tls_key_file",
        location=Location("/etc/postfix/main.cf", 40),
        key_location=Location("/etc/postfix/main.cf", 41),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def lineage(tmp_path: Path, pki: TestPKI) -> Path:
    leaf = pki.leaf(NAMES)
    write(tmp_path, f"{LIVE}/fullchain.pem", pki.bundle(leaf))
    write(tmp_path, f"{LIVE}/cert.pem", leaf.pem)
    write(tmp_path, f"{LIVE}/chain.pem", pki.intermediate.pem)
    write(tmp_path, f"{LIVE}/privkey.pem", leaf.key_pem(), 0o600)
    return tmp_path


def test_fullchain_with_its_key_is_clean(lineage: Path, opts: CheckOptions) -> None:
    result = check_cert_source(separate(), FileCache(LocalRoot(lineage)), NAMES, opts, Where())
    assert result.findings == ()
    assert result.configured.sans == ("mail.example.test",)
    assert len(result.chain) == 2


def test_cert_pem_instead_of_fullchain(lineage: Path, opts: CheckOptions) -> None:
    found = check_cert_source(
        separate(cert=f"{LIVE}/cert.pem"), FileCache(LocalRoot(lineage)), NAMES, opts, Where()
    )
    assert [(f.check, f.severity, f.file, f.line) for f in found.findings] == [
        ("config.cert-not-fullchain", Severity.CRITICAL, "/etc/postfix/main.cf", 40)
    ]
    assert f"{LIVE}/fullchain.pem" in found.findings[0].fix


def test_leaf_only_completed_from_cafile_is_a_warning(lineage: Path, opts: CheckOptions) -> None:
    source = separate(cert=f"{LIVE}/cert.pem", ca_file=f"{LIVE}/chain.pem")
    found = check_cert_source(source, FileCache(LocalRoot(lineage)), NAMES, opts, Where())
    assert [(f.check, f.severity) for f in found.findings] == [
        ("config.cert-not-fullchain", Severity.WARNING)
    ]


def test_key_from_another_lineage_is_a_mismatch(lineage: Path, opts: CheckOptions) -> None:
    write(lineage, "/etc/ssl/private/other.key", key_pem(new_key()), 0o600)
    assert run(lineage, separate(key="/etc/ssl/private/other.key"), opts) == [
        ("key.mismatch", "/etc/ssl/private/other.key")
    ]


def test_intermediate_before_leaf_is_leaf_not_first(lineage: Path, pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(NAMES)
    write(
        lineage,
        "/etc/postfix/combined.pem",
        cert_pem(pki.intermediate.cert, leaf.cert) + leaf.key_pem(),
        0o600,
    )
    source = separate(
        cert="/etc/postfix/combined.pem", key="/etc/postfix/combined.pem", layout=PemLayout.COMBINED
    )
    assert run(lineage, source, opts) == [("cert.leaf-not-first", "/etc/postfix/combined.pem")]


def test_encrypted_key_without_passphrase(lineage: Path, pki: TestPKI, opts: CheckOptions) -> None:
    leaf = pki.leaf(NAMES)
    write(lineage, "/etc/ssl/mail.pem", pki.bundle(leaf))
    write(lineage, "/etc/ssl/mail.key", leaf.key_pem(password=b"s3cret"), 0o600)
    assert run(lineage, separate(cert="/etc/ssl/mail.pem", key="/etc/ssl/mail.key"), opts) == [
        ("key.encrypted", "/etc/ssl/mail.key")
    ]
    with_pass = separate(cert="/etc/ssl/mail.pem", key="/etc/ssl/mail.key", passphrase_configured=True)
    assert run(lineage, with_pass, opts) == []


def test_missing_files_point_at_the_config_line(lineage: Path, opts: CheckOptions) -> None:
    result = check_cert_source(
        separate(cert="/etc/ssl/none.pem"), FileCache(LocalRoot(lineage)), NAMES, opts, Where()
    )
    (finding,) = result.findings
    assert (finding.check, finding.file, finding.line) == ("cert.missing", "/etc/postfix/main.cf", 40)
    assert "/etc/ssl/none.pem" in finding.message
    result = check_cert_source(
        separate(key="/etc/ssl/none.key"), FileCache(LocalRoot(lineage)), NAMES, opts, Where()
    )
    assert [(f.check, f.line) for f in result.findings] == [("key.missing", 41)]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x00\x01garbage\xff" * 10, "no PEM data"),
        (b"", "empty"),
        (b"0\x82\x01\x0a" + b"\x00" * 40, "DER"),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n", "broken PEM block"),
    ],
)
def test_unusable_certificate_files(lineage: Path, opts: CheckOptions, content: bytes, why: str) -> None:
    write(lineage, "/etc/ssl/bad.pem", content)
    result = check_cert_source(
        separate(cert="/etc/ssl/bad.pem"), FileCache(LocalRoot(lineage)), NAMES, opts, Where()
    )
    (finding,) = result.findings
    assert finding.check == "cert.unparsable"
    assert why in finding.message


def test_key_given_as_certificate_says_swapped(lineage: Path, opts: CheckOptions) -> None:
    source = separate(cert=f"{LIVE}/privkey.pem", key=f"{LIVE}/fullchain.pem")
    result = check_cert_source(source, FileCache(LocalRoot(lineage)), NAMES, opts, Where())
    assert [f.check for f in result.findings] == ["cert.unparsable"]
    assert "swapped" in result.findings[0].message


def test_world_readable_key(lineage: Path, opts: CheckOptions) -> None:
    os.chmod(lineage / LIVE.lstrip("/") / "privkey.pem", 0o644)
    assert run(lineage, separate(), opts) == [("key.permissions", f"{LIVE}/privkey.pem")]


def test_chain_files_need_the_key_first(lineage: Path, opts: CheckOptions) -> None:
    wrong = CertSource(
        cert_files=(f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem"),
        key_file=None,
        setting="smtpd_tls_chain_files",
        location=Location("/etc/postfix/main.cf", 12),
        layout=PemLayout.KEY_FIRST,
    )
    assert run(lineage, wrong, opts) == [("config.syntax", "/etc/postfix/main.cf")]
    right = CertSource(
        cert_files=(f"{LIVE}/privkey.pem", f"{LIVE}/fullchain.pem"),
        key_file=None,
        setting="smtpd_tls_chain_files",
        location=Location("/etc/postfix/main.cf", 12),
        layout=PemLayout.KEY_FIRST,
    )
    assert run(lineage, right, opts) == []


def test_private_key_bytes_never_reach_the_findings(lineage: Path, pki: TestPKI, opts: CheckOptions) -> None:
    key_text = (lineage / LIVE.lstrip("/") / "privkey.pem").read_text()
    body = "".join(key_text.splitlines()[1:-1])
    write(lineage, "/etc/ssl/private/other.key", key_pem(new_key()), 0o644)
    result = check_cert_source(
        separate(key="/etc/ssl/private/other.key"), FileCache(LocalRoot(lineage)), NAMES, opts, Where()
    )
    text = repr(result)
    assert body[:40] not in text
    assert "PRIVATE KEY-----" not in text
