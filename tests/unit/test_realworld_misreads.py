"""Misreads of published configurations (issue 25), each shown on the configuration that exposed it.

The configurations are read from ../shared/realworld/sources at test time (tests/realworld.py).
"""

from __future__ import annotations

from pathlib import Path

from mailcert.hostfs import LocalRoot
from mailcert.model import Severity
from mailcert.services.dovecot.parser import parse_dovecot
from tests.realworld import host_tree


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
