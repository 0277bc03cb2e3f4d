"""tls_server_sni_maps: SNI names → key+chain files, and stale indexed tables (postmap -F not re-run)."""

import os
from pathlib import Path

from mailcert.hostfs import LocalRoot
from mailcert.services.model import PemLayout, ServiceConfig
from mailcert.services.postfix.parser import parse_postfix

BASE = 1_700_000_000
MAIN_CF = (
    "myhostname = mail.example.com\n"
    "smtpd_tls_chain_files = /etc/ssl/default/key.pem, /etc/ssl/default/chain.pem\n"
    "smtpd_tls_security_level = may\n"
)
MASTER_CF = "smtp inet n - y - - smtpd\nsubmission inet n - y - - smtpd -o smtpd_tls_security_level=encrypt\n"
SNI_SOURCE = (
    "# name            key, then chain\n"
    "mail.example.org  /etc/letsencrypt/live/mail.example.org/privkey.pem,\n"
    "                  /etc/letsencrypt/live/mail.example.org/fullchain.pem\n"
    "\n"
    ".Example.NET\t/etc/ssl/net/key.pem /etc/ssl/net/chain.pem\n"
)
ORG_CHAIN = "/etc/letsencrypt/live/mail.example.org/fullchain.pem"


def put(root: Path, host_path: str, text: str, age: int) -> None:
    """Write a file whose mtime lies `age` seconds before BASE."""
    target = root / host_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    os.utime(target, (BASE - age, BASE - age))


def host(
    root: Path, maps: str, *, source_age: int = 300, db_age: int | None = 200, cert_age: int = 400
) -> ServiceConfig:
    put(root, "/etc/postfix/main.cf", MAIN_CF + f"tls_server_sni_maps = {maps}\n", 1000)
    put(root, "/etc/postfix/master.cf", MASTER_CF, 1000)
    put(root, "/etc/postfix/sni", SNI_SOURCE, source_age)
    if db_age is not None:
        put(root, "/etc/postfix/sni.db", "(binary Berkeley DB)", db_age)
    for path in (ORG_CHAIN, "/etc/letsencrypt/live/mail.example.org/privkey.pem"):
        put(root, path, "PEM", cert_age)
    return parse_postfix(LocalRoot(root))


def test_hash_table_entries_become_sni_certificates(tmp_path: Path) -> None:
    config = host(tmp_path, "hash:/etc/postfix/sni")
    assert config.findings == ()
    smtp = config.listeners[0]
    assert [(s.names, s.source.cert_files) for s in smtp.sni] == [
        (("mail.example.org",), ("/etc/letsencrypt/live/mail.example.org/privkey.pem", ORG_CHAIN)),
        ((".example.net",), ("/etc/ssl/net/key.pem", "/etc/ssl/net/chain.pem")),
    ]
    first = smtp.sni[0].source
    assert (first.layout, first.setting, first.key_file) == (PemLayout.KEY_FIRST, "tls_server_sni_maps", None)
    assert first.location is not None and (first.location.file, first.location.line) == (
        "/etc/postfix/sni",
        2,
    )
    assert config.config_names == ("mail.example.com", "mail.example.org", "example.net")
    assert "/etc/postfix/sni" in config.files_read


def test_index_older_than_its_source(tmp_path: Path) -> None:
    config = host(tmp_path, "hash:/etc/postfix/sni", source_age=100, db_age=200)
    (finding,) = config.findings
    assert finding.check == "tls.stale"
    assert "older than its source" in finding.message
    assert "postmap -F hash:/etc/postfix/sni" in finding.fix


def test_certificate_renewed_after_postmap(tmp_path: Path) -> None:
    config = host(tmp_path, "hash:/etc/postfix/sni", cert_age=50)
    (finding,) = config.findings
    assert (finding.check, finding.hostname, finding.file, finding.line) == (
        "tls.stale",
        "mail.example.org",
        "/etc/postfix/sni",
        2,
    )
    assert "old certificate" in finding.message


def test_index_never_built(tmp_path: Path) -> None:
    config = host(tmp_path, "hash:/etc/postfix/sni", db_age=None)
    (finding,) = config.findings
    assert finding.check == "tls.stale"
    assert "/etc/postfix/sni.db does not exist" in finding.message


def test_texthash_and_inline_tables_are_read_at_startup_so_never_stale(tmp_path: Path) -> None:
    maps = "texthash:/etc/postfix/sni, inline:{ {imap.example.com = /k.pem, /c.pem}, smtp.example.com=/both.pem }"
    config = host(tmp_path, maps, source_age=10, db_age=None, cert_age=1)
    assert config.findings == ()
    names = [s.names[0] for s in config.listeners[0].sni]
    assert names == ["mail.example.org", ".example.net", "imap.example.com", "smtp.example.com"]
    assert config.listeners[0].sni[2].source.cert_files == ("/k.pem", "/c.pem")


def test_override_can_switch_sni_off_for_one_service(tmp_path: Path) -> None:
    put(tmp_path, "/etc/postfix/master.cf", "", 1000)
    config = host(tmp_path, "hash:/etc/postfix/sni")
    assert len(config.listeners[1].sni) == 2
    master = MASTER_CF + "  -o tls_server_sni_maps=\n"
    put(tmp_path, "/etc/postfix/master.cf", master, 1000)
    config = parse_postfix(LocalRoot(tmp_path))
    assert [len(x.sni) for x in config.listeners] == [2, 0]


def test_missing_source_file(tmp_path: Path) -> None:
    config = host(tmp_path, "lmdb:/etc/postfix/other")
    (finding,) = config.findings
    assert finding.check == "config.syntax"
    assert "/etc/postfix/other cannot be read" in finding.message
