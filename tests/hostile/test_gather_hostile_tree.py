"""gather.sh on a host tree holding every file kind it treats apart (tests/gather_trees.hostile_host): each
record as worked out by hand from the rules in gather.sh's comments, the same document under dash and bash,
no secret and no private key byte in it; and a typical host gathered in at most 60 processes."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mailcert.gather.document import Record, parse_document
from mailcert.gather.program import gather_argv
from tests.gather_trees import gathered_as_root, hostile_host, namespace_available, typical_host

MAX_PROCESSES = 60  # issue 23: a light gather
VOLATILE = {("meta", "clock"), ("meta", "btime"), ("path", "/tmp")}
SECRETS = ["LdapUrlPw", "LdapPw1", "SaslPw2", "PemCfgPw3", "DovPw4", "DovPw5", "DovPw6", "CfToken7", "Eab8"]
SECRETS += ["Unread9", "HookTok10"]


def _gather(root: Path, shell: str) -> bytes:
    argv = gather_argv(str(root))
    return subprocess.run([shell, *argv[1:]], capture_output=True, check=True, timeout=120).stdout


def _stable(document: bytes) -> list[tuple[str, str, dict[str, str], bytes, str | None]]:
    records = parse_document(document.decode("utf-8", "surrogateescape")).records
    return [
        (r.kind, r.name, dict(r.fields), r.body, r.link)
        for r in records
        if r.kind not in ("proc", "proc-net") and (r.kind, r.name) not in VOLATILE
    ]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, dict[tuple[str, str], Record]]:
    root = tmp_path_factory.mktemp("hostile") / "host"
    hostile_host(root)
    dash = _gather(root, "dash")
    assert _stable(dash) == _stable(_gather(root, "bash"))
    records = {(r.kind, r.name): r for r in parse_document(dash.decode("utf-8", "surrogateescape")).records}
    return root, dash, records


def _body(records: dict[tuple[str, str], Record], kind: str, path: str) -> bytes:
    return records[(kind, path)].body


def test_text_is_sent_byte_for_byte_where_nothing_is_secret(hostile: tuple) -> None:  # type: ignore[type-arg]
    root, _, records = hostile
    for name in (
        "no-newline.cf",
        "crlf.cf",
        "empty.cf",
        "blank.cf",
        "high-bytes.cf",
        "subdir with space/file.cf",
    ):
        path = f"/etc/postfix/{name}"
        assert _body(records, "text", path) == (root / path.lstrip("/")).read_bytes(), name
    assert (
        _body(records, "text", "/etc/dovecot/conf.d/98-no-newline.conf")
        == b"ssl_cert = </etc/dovecot/missing.pem"
    )
    # the name after the last word of a file without final newline is looked at as it is
    assert records[("path", "/etc/ssl/x.pem")].fields["t"] == "missing"
    assert ("path", "/etc/ssl/my ca.pem") in records  # a quoted name with a space


def test_files_that_are_no_text_are_described_not_sent(hostile: tuple) -> None:  # type: ignore[type-arg]
    _, _, records = hostile
    expected = {
        "/etc/postfix/binary.db": "binary",
        "/etc/postfix/der.crt": "der",
        "/etc/postfix/nul-in-text.cf": "binary",
        "/etc/postfix/zero-first.cf": "der",  # text whose first byte is "0" (0x30, DER's SEQUENCE)
        "/etc/postfix/sasl_passwd": "text",  # not configuration: described only
    }
    for path, why in expected.items():
        assert records[("nopem", path)].fields == {"why": why}, path
        assert ("text", path) not in records
    assert ("toolarge", "/etc/postfix/big.cf") in records and ("text", "/etc/postfix/big.cf") not in records
    assert records[("path", "/etc/postfix/dangling.cf")].fields["t"] == "missing"
    assert records[("path", "/etc/postfix/loop1")].fields["t"] == "missing"
    assert records[("path", "/etc/postfix/outside.cf")].fields["t"] == "outside"
    assert ("path", "/etc/postfix/fifo") not in records  # walks list folders, files and links only
    assert ("path", '/etc/postfix/quote\'s "name".cf') in records
    assert ("path", "/etc/postfix/new") in records  # a name with a newline: its lines, as find prints them


def test_pem_files_send_certificates_and_public_keys_only(hostile: tuple) -> None:  # type: ignore[type-arg]
    root, document, records = hostile
    with_key = _body(records, "pem", "/etc/postfix/with key.pem").decode()
    key_bytes = (root / "etc/postfix/with key.pem").read_bytes()
    key = serialization.load_pem_private_key(key_bytes, password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert with_key.startswith("%KEY PRIVATE_KEY 0\n" + public.decode() + "-----BEGIN CERTIFICATE-----\n")
    assert "PRIVATE KEY-----\n" not in with_key.replace("%KEY", "")
    assert _body(records, "pem", "/etc/postfix/encrypted.key") == b"%KEY ENCRYPTED_PRIVATE_KEY 1\n"
    assert _body(records, "pem", "/etc/postfix/rsa.key").startswith(
        b"%KEY PRIVATE_KEY 0\n-----BEGIN PUBLIC KEY-----\n"
    )
    garbage = _body(records, "pem", "/etc/postfix/garbage.pem").decode()
    assert garbage == (
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
        "%KEY PRIVATE_KEY 0\n%KEYERR\n%OTHER DH PARAMETERS\n%BROKEN CERTIFICATE\n"
    )
    # live/ links and archive/ files: the same key, the same public key
    live = _body(records, "pem", "/etc/letsencrypt/live/other.example.test/privkey.pem")
    assert live == _body(records, "pem", "/etc/letsencrypt/archive/other.example.test/privkey1.pem")
    assert live.startswith(b"%KEY ") and b"-----BEGIN PUBLIC KEY-----" in live
    # a config file holding a block: the block as PEM, the text with the block's lines blank, secrets hidden
    text = _body(records, "text", "/etc/postfix/pem-in-config.cf").decode()
    lines = text.split("\n")
    assert (
        lines[0] == "smtpd_tls_cert_file = /etc/ssl/c.pem" and lines[1] == "password = (hidden-by-mailcert)"
    )
    assert lines[-2] == "after = block" and set(lines[2:-2]) == {""}
    for private in re.findall(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\n([A-Za-z0-9+/=]{20})", document):
        pytest.fail(f"private key bytes in the document: {private!r}")


def test_no_secret_leaves_the_host(hostile: tuple) -> None:  # type: ignore[type-arg]
    _, document, records = hostile
    everything = document + b"".join(r.body for r in records.values())
    assert [s for s in SECRETS if s.encode() in everything] == []
    assert _body(records, "text", "/etc/dovecot/conf.d/99-secret.conf") == (
        b"ssl_key_password = (hidden-by-mailcert)\npassdb {\n  args = password= (hidden-by-mailcert) \\\n"
        b"    (hidden-by-mailcert)\n}\n"
    )
    assert _body(records, "text", "/etc/postfix/ldap.cf") == (
        b"server_host = ldap://cn=a:(hidden-by-mailcert)@ldap.example.test\nbind_pw = (hidden-by-mailcert)\n"
        b"query_filter = mail=%s\n  continued_after\n"
    )


def _execs(trace: Path) -> list[str]:
    return [line for line in trace.read_text().splitlines() if "execve(" in line and line.endswith("= 0")]


def test_a_typical_host_is_gathered_in_at_most_60_processes(tmp_path: Path) -> None:
    why = namespace_available()
    if why is not None:
        if os.geteuid() == 0:
            pytest.fail(why)
        pytest.skip(why)
    if shutil.which("strace") is None:
        pytest.fail("strace is missing: run scripts/install-system-deps")
    typical_host(tmp_path / "host")
    trace = tmp_path / "trace"
    argv = gather_argv("/")
    strace = ["strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", str(trace)]
    done = gathered_as_root(tmp_path / "host", [*strace, "dash", *argv[1:]])
    assert done.returncode == 0, done.stderr[-2000:]
    assert b"%END" in done.stdout
    execs = _execs(trace)[1:]  # the shell itself
    programs = sorted(re.sub(r'.*execve\("([^"]*)".*', r"\1", line) for line in execs)
    assert len(execs) <= MAX_PROCESSES, programs


def test_a_link_target_holding_a_newline_never_makes_the_gather_read_another_file(tmp_path: Path) -> None:
    """A link in a walked folder whose target path holds a newline and then a line the program gives
    meaning to ("%B f FILE": send FILE base64-encoded): that line is printed as it is (the document is
    then broken and refused, as before), never followed: FILE's bytes do not leave the host."""
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("ExfilSecret11\n")
    root = tmp_path / "host"
    postfix = root / "etc/postfix"
    postfix.mkdir(parents=True)
    (postfix / "main.cf").write_text("myhostname = mx.example.test\n")
    # the link leads to ROOT/etc/postfix/"d\n%B f "/SECRET: its target's second line is "%B f SECRET"
    (postfix / "d\n%B f " / secret.parent.relative_to("/")).mkdir(parents=True)
    (postfix / "link.cf").symlink_to(postfix / "d\n%B f " / secret.relative_to("/"))
    for shell in ("dash", "bash"):
        out = _gather(root, shell)
        assert f"\n%L /etc/postfix/d\n%B f {secret}\n".encode() in out  # printed as it is
        sent = b"".join(base64.b64encode(b"ExfilSecret11\n"[i:]) for i in range(3))
        assert b"RXhmaWxTZWNyZXQx" not in out and sent not in out
