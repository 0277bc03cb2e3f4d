"""Property: every mail-service parser turns any file content into findings or a MailcertError line.

Postfix (main.cf + master.cf, from text and through LocalRoot), Dovecot (with includes), Exim (Debian
layout and cPanel's /etc/exim.conf). Never another exception, never a hang.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mailcert.errors import MailcertError
from mailcert.hostfs import LocalRoot, decode_config
from mailcert.services.dovecot.parser import parse_dovecot
from mailcert.services.exim.parser import parse_exim, parse_exim_text
from mailcert.services.model import ServiceConfig
from mailcert.services.postfix.config import PostfixConfig
from mailcert.services.postfix.parser import parse_postfix, service_config
from tests.fuzz.strategies import content, no_hang, text_of, tmp_root, to_bytes, write

POSTFIX_MAIN = [
    "smtpd_tls_cert_file",
    "smtpd_tls_key_file",
    "smtpd_tls_chain_files",
    "smtpd_tls_eccert_file",
    "smtpd_tls_security_level",
    "smtpd_tls_wrappermode",
    "smtpd_use_tls",
    "smtpd_tls_protocols",
    "smtpd_tls_mandatory_protocols",
    "tls_server_sni_maps",
    "myhostname",
    "mydomain",
    "myorigin",
    "inet_interfaces",
    "$myhostname",
    "${myhostname}",
    "$smtpd_tls_cert_file",
    "${x?y}",
    "${x:y}",
    "${x?{a}:{b}}",
    "texthash:/etc/postfix/sni",
    "inline:{ a=b }",
    "hash:/etc/postfix/sni_map",
    "/etc/ssl/certs/mail.pem",
    "may",
    "encrypt",
    "none",
    "yes",
]
POSTFIX_MASTER = [
    "smtp",
    "submission",
    "smtps",
    "465",
    "587",
    "127.0.0.1:25",
    "[::1]:25",
    "inet",
    "unix",
    "n",
    "-",
    "y",
    "smtpd",
    "postscreen",
    "-o",
    "smtpd_tls_wrappermode=yes",
    "smtpd_tls_security_level=encrypt",
    "{ -o smtpd_tls_cert_file=/x }",
    "{",
    "}",
    "\n  ",
]
DOVECOT = [
    "ssl",
    "ssl_cert",
    "ssl_key",
    "ssl_ca",
    "ssl_server_cert_file",
    "ssl_min_protocol",
    "protocols",
    "imap pop3 lmtp",
    "= <",
    "</etc/ssl/mail.pem",
    "<",
    "local_name mail.example.test {",
    "local 127.0.0.1 {",
    "remote 10.0.0.0/8 {",
    "protocol imap {",
    "service imap-login {",
    "inet_listener imaps {",
    "port = 993",
    "ssl = yes",
    "ssl = required",
    "!include conf.d/*.conf",
    "!include_try loop.conf",
    "!include dovecot.conf",
    "$SET:x",
    "$ssl_cert",
    "%{hostname}",
    "{",
    "}",
    "}\n}\n}",
    "dovecot_config_version = 2.4.0",
]
EXIM = [
    "tls_certificate",
    "tls_privatekey",
    "tls_advertise_hosts",
    "daemon_smtp_ports",
    "tls_on_connect_ports",
    "local_interfaces",
    "primary_hostname",
    "MAIN_TLS_ENABLE",
    "MAIN_TLS_CERTIFICATE",
    "CERT = /etc/exim4/exim.crt",
    "CERT",
    ".include /etc/exim.conf",
    ".include_if_exists /etc/exim4/loop",
    ".ifdef CERT",
    ".ifndef X",
    ".elifdef Y",
    ".else",
    ".endif",
    "begin acl",
    "begin main",
    "${if exists{/etc/$tls_in_sni.pem}{/etc/$tls_in_sni.pem}{/etc/exim.crt}}",
    "${lookup{$tls_in_sni}lsearch{/etc/sni}}",
    "${",
    "$tls_in_sni",
    "domainlist local_domains = @",
    "hostlist relay = <; ::1",
    "= true",
    "= <; 25 ; 465",
    "\\\n",
]
UPDATE_EXIM4 = [
    "dc_eximconfig_configtype",
    "dc_other_hostnames",
    "dc_local_interfaces",
    "dc_use_split_config",
]


def _accepts(parse: object, root: Path) -> ServiceConfig | None:
    """Run a parser on ROOT: a ServiceConfig whose findings name catalogue checks, or a MailcertError."""
    assert callable(parse)
    try:
        with no_hang():
            service = parse(LocalRoot(root))
    except MailcertError as exc:
        assert str(exc).strip() and "\n" not in exc.what.strip("\n")
        return None
    assert isinstance(service, ServiceConfig)
    for finding in service.findings:
        assert finding.check and isinstance(finding.message, str)
    return service


@given(text_of(POSTFIX_MAIN), text_of(POSTFIX_MASTER))
def test_postfix_text_gives_findings_never_a_traceback(main_cf: str, master_cf: str) -> None:
    main_cf, master_cf = decode_config(to_bytes(main_cf)), decode_config(to_bytes(master_cf))
    with tmp_root() as root:
        with no_hang():
            config = PostfixConfig.from_text(main_cf, master_cf)
            service = service_config(config, LocalRoot(root))
        assert all(f.check for f in service.findings)


@given(content(POSTFIX_MAIN), st.one_of(st.none(), content(POSTFIX_MASTER)), st.booleans())
def test_postfix_files_give_findings_never_a_traceback(
    main_cf: bytes, master_cf: bytes | None, loop: bool
) -> None:
    with tmp_root() as root:
        write(root, "/etc/postfix/main.cf", main_cf)
        if master_cf is not None:
            write(root, "/etc/postfix/master.cf", master_cf)
        write(root, "/etc/postfix/sni", b"mail.example.test /etc/ssl/a.pem\n\x00\xff")
        if loop:  # a symlink loop where a certificate or an SNI table is expected
            (root / "etc/ssl").mkdir(parents=True, exist_ok=True)
            (root / "etc/ssl/certs").symlink_to("certs")
            (root / "etc/postfix/sni_map").symlink_to("/etc/postfix/sni_map")
        _accepts(parse_postfix, root)


@given(content(DOVECOT), content(DOVECOT), st.booleans())
def test_dovecot_files_give_findings_never_a_traceback(main: bytes, included: bytes, loop: bool) -> None:
    with tmp_root() as root:
        write(root, "/etc/dovecot/dovecot.conf", main + b"\n!include_try conf.d/*.conf\n")
        write(root, "/etc/dovecot/conf.d/10-ssl.conf", included)
        if loop:
            write(root, "/etc/dovecot/conf.d/20-loop.conf", b"!include ../dovecot.conf\n")
            (root / "etc/dovecot/conf.d/30-self.conf").symlink_to("30-self.conf")
        _accepts(parse_dovecot, root)


@given(content(EXIM), st.booleans())
def test_exim_cpanel_file_gives_findings_never_a_traceback(conf: bytes, loop: bool) -> None:
    with tmp_root() as root:
        write(root, "/etc/exim.conf", conf + (b"\n.include /etc/exim.conf\n" if loop else b""))
        _accepts(parse_exim, root)


@given(content(EXIM), content(UPDATE_EXIM4), st.booleans())
def test_exim_debian_layout_gives_findings_never_a_traceback(
    template: bytes, update: bytes, split: bool
) -> None:
    with tmp_root() as root:
        write(root, "/etc/exim4/update-exim4.conf.conf", update)
        if split:
            write(root, "/etc/exim4/conf.d/main/03_exim4-config_tlsoptions", template)
            write(root, "/etc/exim4/conf.d/main/00_loop", b".include /etc/exim4/conf.d/main/00_loop\n")
        else:
            write(root, "/etc/exim4/exim4.conf.template", template)
        _accepts(parse_exim, root)


@given(text_of(EXIM))
def test_exim_text_gives_findings_never_a_traceback(text: str) -> None:
    with tmp_root() as root:
        try:
            with no_hang():
                config = parse_exim_text(
                    decode_config(to_bytes(text)), LocalRoot(root), path="/etc/exim.conf"
                )
        except MailcertError:
            return
        assert all(f.check for f in config.main.findings)
