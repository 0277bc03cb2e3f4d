"""Corpus trees of tests/data/dovecot read without doveconf; the expectations are doveconf 2.3.19's own
output for the same trees (`doveconf -nP` and `-h service/…/port`), recorded when these tests were written
(tests/oracle/test_dovecot_oracle.py re-checks them against the live binary)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mailcert.hostfs import LocalRoot
from mailcert.model import Mode
from mailcert.services.dovecot.config import load_dovecot_config
from mailcert.services.dovecot.parser import parse_dovecot

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dovecot"


def tree(name: str, dest: Path) -> LocalRoot:
    base = CORPUS / name / "BASE"
    if base.exists():
        shutil.copytree(CORPUS / base.read_text().strip(), dest, dirs_exist_ok=True)
    shutil.copytree(CORPUS / name, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("BASE"))
    return LocalRoot(dest)


def test_debian_default(tmp_path: Path) -> None:
    config = load_dovecot_config(tree("debian-default", tmp_path))
    # doveconf -nP (modelled settings): protocols comes from /usr/share/dovecot/protocols.d
    assert config.non_default() == {
        (): {
            "protocols": " imap pop3",
            "ssl_cert": "</etc/dovecot/private/dovecot.pem",
            "ssl_key": "</etc/dovecot/private/dovecot.key",
            "ssl_dh": "</usr/share/dovecot/dh.pem",
        }
    }
    service = parse_dovecot(tree("debian-default", tmp_path))
    assert [(x.name, x.port, x.mode) for x in service.listeners] == [
        ("imap", 143, Mode.STARTTLS),
        ("imaps", 993, Mode.IMPLICIT),
        ("pop3", 110, Mode.STARTTLS),
        ("pop3s", 995, Mode.IMPLICIT),
    ]
    assert service.findings == ()
    assert len(service.files_read) == 18


def test_custom_listeners(tmp_path: Path) -> None:
    config = load_dovecot_config(tree("listeners-custom", tmp_path))
    assert config.non_default() == {
        (): {
            "protocols": "imap pop3 submission",
            "ssl_cert": "</etc/ssl/mail.pem",
            "ssl_key": "</etc/ssl/mail.key",
        },
        ("service imap-login", "inet_listener imap"): {"port": "0"},
        ("service imap-login", "inet_listener imaps"): {"port": "993"},
        ("service imap-login", "inet_listener imaps-alt"): {"port": "1993", "ssl": "no"},
        ("service pop3-login", "inet_listener pop3s"): {"ssl": "yes"},
        ("service submission-login", "inet_listener submissions"): {"port": "465", "ssl": "yes"},
    }
    # doveconf -h service/imap-login/inet_listener/NAME/{port,ssl}
    recorded = {
        "imap": ("0", "no"),
        "imaps": ("993", "yes"),
        "imaps-alt": ("1993", "no"),
        "unused": ("0", "no"),
    }
    for name, (port, ssl) in recorded.items():
        base = f"service/imap-login/inet_listener/{name}"
        assert (config.value(f"{base}/port"), config.value(f"{base}/ssl")) == (port, ssl)
    service = parse_dovecot(tree("listeners-custom", tmp_path))
    assert [(x.name, x.port, x.mode) for x in service.listeners] == [
        ("imaps", 993, Mode.IMPLICIT),
        ("imaps-alt", 1993, Mode.STARTTLS),
        ("pop3", 110, Mode.STARTTLS),
        ("pop3s", 995, Mode.IMPLICIT),
        ("submission", 587, Mode.STARTTLS),
        ("submissions", 465, Mode.IMPLICIT),
    ]
    (twice,) = service.findings  # imaps-alt: ssl = YES, later ssl = no
    assert (twice.check, twice.line) == ("config.overridden", 34)
