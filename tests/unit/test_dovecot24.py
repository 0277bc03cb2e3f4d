"""Dovecot 2.4 configurations. No 2.4 binary runs here: the expectations come from the reference notes
(/work/shared/reference/mail-tls-config.md §2.5, quoting doc.dovecot.org/2.4.0 and the 2.3-to-2.4
converted-settings table) and scenarios 22 and 23 of §9."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcert.hostfs import LocalRoot
from mailcert.model import Finding, Severity
from mailcert.services.dovecot.config import DovecotConfig, load_dovecot_config
from mailcert.services.dovecot.parser import parse_dovecot
from mailcert.services.model import ServiceConfig
from tests.dovecot24_order import GLOBAL, ORDER_CASES, OrderCase

CONF = "/etc/dovecot/dovecot.conf"
HEAD = "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\nprotocols = imap\n"


def write(tmp_path: Path, text: str, extra: dict[str, str] | None = None) -> LocalRoot:
    for name, body in {CONF: text, **(extra or {})}.items():
        path = tmp_path / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return LocalRoot(tmp_path)


def service_of(tmp_path: Path, text: str, version: str | None = None) -> ServiceConfig:
    return parse_dovecot(write(tmp_path, text), version=version)


def config_of(tmp_path: Path, text: str, extra: dict[str, str] | None = None) -> DovecotConfig:
    return load_dovecot_config(write(tmp_path, text, extra))


def syntax(service: ServiceConfig) -> list[Finding]:
    return [f for f in service.findings if f.check == "config.syntax"]


def test_version_comes_from_dovecot_config_version(tmp_path: Path) -> None:
    assert config_of(tmp_path, HEAD).version == "2.4"
    assert config_of(tmp_path, "protocols = imap\n").version == "2.3"


def test_file_settings_take_plain_paths(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        HEAD + "ssl_server_cert_file = /etc/letsencrypt/live/mail.example.com/fullchain.pem\n"
        "ssl_server_key_file = /etc/letsencrypt/live/mail.example.com/privkey.pem\n"
        "ssl_server_key_password = pass-phrase\n",
    )
    assert service.version == "2.4" and service.findings == ()
    source = service.listeners[0].certificates[0]
    assert source.cert_files == ("/etc/letsencrypt/live/mail.example.com/fullchain.pem",)
    assert source.key_file == "/etc/letsencrypt/live/mail.example.com/privkey.pem"
    assert source.setting == "ssl_server_cert_file" and source.key_setting == "ssl_server_key_file"
    assert source.passphrase_configured


def test_lt_on_a_file_setting_is_an_error(tmp_path: Path) -> None:
    # scenario 22: ssl_server_cert_file = </etc/ssl/mail.pem → "2.4 *_file settings take a path; remove '<'"
    service = service_of(tmp_path, HEAD + "ssl_server_cert_file = </etc/ssl/mail.pem\n")
    (error,) = syntax(service)
    assert (error.line, error.severity) == (4, Severity.CRITICAL)
    assert error.fix == "remove the '<': ssl_server_cert_file = /etc/ssl/mail.pem"
    assert service.listeners[0].certificates[0].cert_files == ("/etc/ssl/mail.pem",)


def test_23_names_in_a_24_config(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        HEAD + "ssl_cert = </etc/ssl/mail.pem\nssl_key = </etc/ssl/mail.key\ndisable_plaintext_auth = no\n",
    )
    errors = syntax(service)
    assert [e.line for e in errors] == [4, 5, 6]
    assert "renamed it to ssl_server_cert_file" in errors[0].message
    assert errors[0].fix == "replace the ssl_cert line with `ssl_server_cert_file = /etc/ssl/mail.pem`"
    assert "auth_allow_cleartext" in errors[2].message
    assert [f for f in service.findings if f.check == "config.dovecot-missing-lt"] == []
    # the model keeps following the renamed settings so the certificate is still checked
    assert service.listeners[0].certificates[0].cert_files == ("/etc/ssl/mail.pem",)


def test_23_config_on_installed_24(tmp_path: Path) -> None:
    # scenario 23: ssl_cert = </… and no dovecot_config_version, Dovecot 2.4 installed
    service = service_of(tmp_path, "protocols = imap\nssl_cert = </etc/ssl/mail.pem\n", version="2.4.1")
    messages = [e.message for e in syntax(service)]
    assert "requires dovecot_config_version as the first setting" in messages[0]
    assert "renamed it to ssl_server_cert_file" in messages[1]


def test_config_version_not_first(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = imap\ndovecot_config_version = 2.4.0\n")
    (error,) = syntax(service)
    assert error.line == 1 and "first setting" in error.message


def test_24_config_on_installed_23(tmp_path: Path) -> None:
    service = service_of(tmp_path, HEAD, version="2.3.19.1")
    assert service.version == "2.3"
    assert "Unknown setting: dovecot_config_version" in syntax(service)[0].message


def test_heredoc_value_is_inline_and_never_shown(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        HEAD
        + "ssl_server_ca_file = <<END\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\nEND\n"
        "ssl_server_cert_file = /c.pem\n",
    )
    assert (
        config.value("ssl_server_ca_file") == "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    )
    assert config.value("ssl_server_cert_file") == "/c.pem"
    service = parse_dovecot(LocalRoot(tmp_path))
    assert service.listeners[0].certificates[0].ca_file is None  # inline: no file to check
    assert all("MIIB" not in f.message + f.fix for f in service.findings)


def test_last_matching_local_name_wins(tmp_path: Path) -> None:
    # "The wildcard certificate must be listed first, followed by more specific names. Note that the
    # last matching local_name filter will be used" (doc.dovecot.org 2.4 ssl.md)
    text = HEAD + (
        "ssl_server_cert_file = /g.pem\n"
        "local_name *.example.com {\n  ssl_server_cert_file = /wild.pem\n}\n"
        "local_name mail.example.com {\n  ssl_server_cert_file = /mail.pem\n}\n"
    )
    config = config_of(tmp_path, text)
    assert config.value("ssl_server_cert_file", local_name="mail.example.com") == "/mail.pem"
    assert config.value("ssl_server_cert_file", local_name="imap.example.com") == "/wild.pem"
    assert config.value("ssl_server_cert_file") == "/g.pem"
    service = parse_dovecot(LocalRoot(tmp_path))
    assert [(s.names, s.source.cert_files) for s in service.listeners[0].sni] == [
        (("mail.example.com",), ("/mail.pem",)),
        (("*.example.com",), ("/wild.pem",)),
    ]
    assert [f for f in service.findings if f.check == "config.overridden"] == []


def test_specific_before_wildcard_is_shadowed_in_24(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        HEAD + "local_name mail.example.com {\n  ssl_server_cert_file = /mail.pem\n}\n"
        "local_name *.example.com {\n  ssl_server_cert_file = /wild.pem\n}\n",
    )
    (shadow,) = [f for f in service.findings if f.check == "config.overridden"]
    assert shadow.line == 5 and "last matching block wins in Dovecot 2.4" in shadow.message


def test_set_variables(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        HEAD + "ssl_server_cert_file = /etc/ssl/mail.pem\nssl_server_key_file = $SET:ssl_server_cert_file\n",
    )
    assert config.value("ssl_server_key_file") == "/etc/ssl/mail.pem"


def test_cleartext_and_client_certificate_settings(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        HEAD
        + "auth_allow_cleartext = yes\nssl_server_ca_file = /chain.pem\nssl_server_request_client_cert = yes\n",
    )
    checks = sorted(f.check for f in service.findings)
    assert checks == ["config.dovecot-ssl-ca-misuse", "config.plaintext-auth"]
    assert service.listeners[0].plaintext_auth


def test_empty_include_glob_is_fine_in_24(tmp_path: Path) -> None:
    service = service_of(tmp_path, HEAD + "!include conf.d/*.conf\n")
    assert service.findings == ()


def test_filter_nesting_order(tmp_path: Path) -> None:
    # "The filter nesting order must be exactly local → local_name → remote → protocol, or parsing fails"
    service = service_of(
        tmp_path, HEAD + "protocol imap {\n  local_name a {\n    ssl_server_cert_file = /a\n  }\n}\n"
    )
    (error,) = syntax(service)
    assert error.line == 5 and "not allowed" in error.message


def test_ssl_server_block_is_the_prefixed_setting(tmp_path: Path) -> None:
    # doveconf 2.4.1 (Debian 13): `doveconf -n` prints every ssl_server_* setting as `ssl_server { cert_file }`,
    # and `doveconf -f protocol=imap ssl_server` answers cert_file = /g (the later of the two in one filter),
    # key_file = /k; `-f protocol=pop3`: cert_file = /s, no key_file.
    text = HEAD + (
        "ssl_server {\n  cert_file = /s\n  ssl_min_protocol = TLSv1.3\n}\n"
        "protocol imap {\n  ssl_server {\n    cert_file = /i\n    key_file = /k\n  }\n  ssl_server_cert_file = /g\n}\n"
    )
    config = config_of(tmp_path, text)
    assert config.value("ssl_server_cert_file", protocol="pop3") == "/s"
    assert config.value("ssl_server_key_file", protocol="pop3") == ""
    assert config.value("ssl_server_cert_file", protocol="imap") == "/g"
    assert config.value("ssl_server_key_file", protocol="imap") == "/k"
    assert config.value("ssl_min_protocol") == "TLSv1.3"  # not an ssl_server_* name: kept as written
    source = parse_dovecot(LocalRoot(tmp_path)).listeners[0].certificates[0]
    assert (source.cert_files, source.key_file, source.location.line if source.location else None) == (
        ("/g",),
        "/k",
        13,
    )


@pytest.mark.parametrize("case", ORDER_CASES, ids=[c.id for c in ORDER_CASES])
def test_matching_blocks_apply_in_file_order(tmp_path: Path, case: OrderCase) -> None:
    # what Dovecot 2.4.1 served (tests/dovecot24_order.py; the served oracle asks it again)
    config = config_of(tmp_path, HEAD + GLOBAL + case.blocks)
    found = config.value(
        "ssl_server_cert_file", local_name=case.local_name, local="127.0.0.1", protocol="pop3"
    )
    assert found == case.served


def test_local_name_takes_one_name(tmp_path: Path) -> None:
    # doveconf 2.4.1: "Error in configuration file … line 4: Expecting '{'"
    service = service_of(
        tmp_path, HEAD + "local_name a.example.com b.example.com {\n  ssl_server_cert_file = /ab\n}\n"
    )
    (error,) = syntax(service)
    assert error.line == 4 and error.message.startswith("Expecting '{'")


def test_listener_address_is_listen(tmp_path: Path) -> None:
    # doveconf 2.4.1 refuses `address` in an inet_listener ("Unknown setting: address"); 2.4 calls it listen
    text = HEAD + (
        "local 192.0.2.10 {\n  ssl_server_cert_file = /local.pem\n}\n"
        "service imap-login {\n  inet_listener imaps {\n    listen = 192.0.2.10\n  }\n}\n"
    )
    imaps = next(x for x in service_of(tmp_path, text).listeners if x.name == "imaps")
    assert imaps.certificates[0].cert_files == ("/local.pem",)
    wrong = service_of(tmp_path, text.replace("listen =", "address ="))
    (error,) = syntax(wrong)
    assert error.line == 9 and error.message.startswith("Unknown setting: address")


def test_24_has_a_submissions_listener(tmp_path: Path) -> None:
    # doveconf -a service/submission-login of 2.4.1: inet_listener submissions { port = 465, ssl = yes }
    text = HEAD.replace("protocols = imap", "protocols = submission") + "ssl_server_cert_file = /c.pem\n"
    listeners = {(x.name, x.port, x.mode.value) for x in service_of(tmp_path, text).listeners}
    assert listeners == {("submission", 587, "starttls"), ("submissions", 465, "implicit")}


def test_include_or_section_before_config_version(tmp_path: Path) -> None:
    # doveconf 2.4.1 stops at the first directive that is not dovecot_config_version, an include that matches
    # nothing and a section included: "line 2: The first setting must be dovecot_config_version"
    for text in (
        "# comment\n!include_try nothing.conf\n" + HEAD,
        "# comment\nprotocols {\n  imap = yes\n}\n" + HEAD,
    ):
        errors = syntax(service_of(tmp_path, text, version="2.4.1"))
        assert [e.line for e in errors][:1] == [2] and "first setting" in errors[0].message


def test_storage_version_is_required(tmp_path: Path) -> None:
    # doveconf 2.4.1: "Fatal: dovecot_storage_version setting must be set"
    (error,) = syntax(service_of(tmp_path, "dovecot_config_version = 2.4.0\nprotocols = imap\n"))
    assert error.line == 1 and "dovecot_storage_version setting must be set" in error.message


def test_a_certificate_inside_a_listener_is_said_to_be_unused(tmp_path: Path) -> None:
    # Dovecot 2.4.1 starts with it but serves the global certificate there (ORDER_CASES "inside-the-listener")
    text = (
        HEAD.replace("imap", "pop3")
        + GLOBAL
        + (
            "ssl_server_key_file = /certs/g.key\n"
            "service pop3-login {\n  inet_listener pop3 {\n    ssl_server_cert_file = /certs/proto.pem\n  }\n}\n"
        )
    )
    service = service_of(tmp_path, text)
    (unused,) = [f for f in service.findings if f.check == "config.overridden"]
    assert unused.severity is Severity.WARNING
    assert (unused.file, unused.line) == (CONF, 8)
    assert (
        "ssl_server_cert_file inside service pop3-login { inet_listener pop3 } is accepted but not used"
        in (unused.message)
    )
    assert not syntax(service)  # Dovecot starts: not a syntax error
    pop3 = next(x for x in service.listeners if x.name == "pop3")
    assert pop3.certificates[0].cert_files == ("/certs/g.pem",)  # what it serves
