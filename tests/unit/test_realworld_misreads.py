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
