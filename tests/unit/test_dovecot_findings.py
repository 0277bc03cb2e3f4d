"""Findings of the Dovecot parser on small host trees (lint ROOT), Dovecot 2.3 syntax."""

from __future__ import annotations

from pathlib import Path

from mailcert.hostfs import LocalRoot
from mailcert.model import Finding, Mode, Severity
from mailcert.services.dovecot.parser import parse_dovecot
from mailcert.services.model import PemLayout, ServiceConfig

CONF = "/etc/dovecot/dovecot.conf"


def service_of(tmp_path: Path, text: str, extra: dict[str, str] | None = None) -> ServiceConfig:
    for name, body in {CONF: text, **(extra or {})}.items():
        path = tmp_path / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return parse_dovecot(LocalRoot(tmp_path))


def only(findings: tuple[Finding, ...], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def test_missing_lt_points_at_the_line_and_gives_the_fixed_line(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        "protocols = imap\nssl_cert = /etc/letsencrypt/live/mail.example.com/fullchain.pem\n"
        "ssl_key = </etc/letsencrypt/live/mail.example.com/privkey.pem\n",
    )
    (missing,) = only(service.findings, "config.dovecot-missing-lt")
    assert (missing.file, missing.line, missing.severity) == (CONF, 2, Severity.CRITICAL)
    assert missing.fix == "ssl_cert = </etc/letsencrypt/live/mail.example.com/fullchain.pem"
    assert "You probably forgot '<'" in missing.message
    # the intended file is still followed, so the certificate itself gets checked too
    imaps = next(x for x in service.listeners if x.port == 993)
    assert imaps.certificates[0].cert_files == ("/etc/letsencrypt/live/mail.example.com/fullchain.pem",)


def test_inline_looking_values_are_not_taken_for_paths(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = imap\nssl_cert = yes please\nssl_key = </k.pem\n")
    assert only(service.findings, "config.dovecot-missing-lt") == []
    assert service.listeners[0].certificates == ()


def test_ssl_no_with_ssl_listeners(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        "protocols = imap\nssl = no\nservice imap-login {\n  inet_listener imaps {\n    port = 993\n"
        "    ssl = yes\n  }\n}\n",
    )
    disabled = only(service.findings, "config.tls-disabled")
    assert {(f.port, f.line) for f in disabled} == {(143, 2), (993, 2)}
    assert all(f.severity is Severity.CRITICAL for f in disabled)
    assert "connection refused" in next(f for f in disabled if f.port == 993).message
    assert [x.tls_enabled for x in service.listeners] == [False, False]


def test_protocol_level_ssl_no_only_turns_off_that_protocol(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = imap pop3\nssl_cert = </c\nprotocol pop3 {\n  ssl = no\n}\n")
    assert {x.name: x.tls_enabled for x in service.listeners} == {
        "imap": True,
        "imaps": True,
        "pop3": False,
        "pop3s": False,
    }
    assert {f.line for f in only(service.findings, "config.tls-disabled")} == {4}


def test_ssl_ca_without_client_certificates(tmp_path: Path) -> None:
    service = service_of(
        tmp_path, "protocols = imap\nssl_cert = </c.pem\nssl_key = </k.pem\nssl_ca = </chain.pem\n"
    )
    (misuse,) = only(service.findings, "config.dovecot-ssl-ca-misuse")
    assert (misuse.line, misuse.severity) == (4, Severity.WARNING)
    assert "fullchain.pem" in misuse.fix
    assert service.listeners[0].certificates[0].ca_file == "/chain.pem"


def test_ssl_ca_with_client_certificates_says_clients_are_asked(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = imap\nssl_ca = </chain.pem\nssl_verify_client_cert = yes\n")
    (misuse,) = only(service.findings, "config.dovecot-ssl-ca-misuse")
    assert misuse.severity is Severity.WARNING
    assert "clients will be asked for certificates" in misuse.message


def test_setting_twice_in_one_scope(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        "protocols = imap\nssl_cert = </etc/new/fullchain.pem\nssl_key = </k\nssl_key = </k\n"
        "ssl_cert = </etc/ssl/certs/ssl-cert-snakeoil.pem\n",
    )
    (twice,) = only(service.findings, "config.overridden")  # the identical ssl_key lines are harmless
    assert (twice.line, twice.severity) == (5, Severity.WARNING)
    assert "ssl-cert-snakeoil.pem" in twice.message and "line 2" in twice.message
    assert service.listeners[0].certificates[0].cert_files == ("/etc/ssl/certs/ssl-cert-snakeoil.pem",)


def test_protocols_appending_to_itself_is_not_a_duplicate(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = $protocols imap\nprotocols = $protocols pop3\n")
    assert only(service.findings, "config.overridden") == []
    assert {x.port for x in service.listeners} == {143, 993, 110, 995}


def test_global_after_local_name_block(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        "protocols = imap\nlocal_name imap.example.org {\n  ssl_cert = </sni.pem\n}\nssl_cert = </global.pem\n",
    )
    (late,) = only(service.findings, "config.overridden")
    assert late.line == 5 and "earlier filter at /etc/dovecot/dovecot.conf line 3" in late.message


def test_specific_local_name_after_wildcard_is_shadowed(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        "protocols = imap\nssl_cert = </g.pem\nlocal_name *.example.com {\n  ssl_cert = </wild.pem\n}\n"
        "local_name mail.example.com {\n  ssl_cert = </mail.pem\n}\n",
    )
    (shadow,) = only(service.findings, "config.overridden")
    assert shadow.line == 7 and "first matching block wins" in shadow.message
    # what a client asking for mail.example.com gets: the wildcard block's certificate
    sni = service.listeners[0].sni
    assert [(s.names, s.source.cert_files) for s in sni] == [
        (("*.example.com", "mail.example.com"), ("/wild.pem",))
    ]


def test_obsolete_ssl_protocols_is_a_warning_with_the_converted_value(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = imap\nssl_protocols = !SSLv3\n")
    (obsolete,) = only(service.findings, "config.syntax")
    assert obsolete.severity is Severity.WARNING and "ssl_min_protocol = TLSv1" in obsolete.message
    assert service.listeners[0].min_tls == "TLSv1"
    assert {f.port for f in only(service.findings, "config.legacy-protocols")} == {143, 993}


def test_unknown_ssl_setting_suggests_the_name(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = imap\nssl_cert = </c\nssl_kye = </k\n")
    (typo,) = only(service.findings, "config.syntax")
    assert (typo.line, typo.severity) == (3, Severity.CRITICAL)
    assert "did you mean ssl_key" in typo.message and typo.fix == "rename it to ssl_key"


def test_plaintext_auth_on_starttls_listeners_only(tmp_path: Path) -> None:
    service = service_of(
        tmp_path, "protocols = imap pop3\ndisable_plaintext_auth = no\nprotocol pop3 {\n  ssl = required\n}\n"
    )
    plain = only(service.findings, "config.plaintext-auth")
    assert [(f.port, f.line) for f in plain] == [(143, 2)]  # not 993 (TLS first), not pop3 (ssl = required)
    assert {x.port: x.plaintext_auth for x in service.listeners} == {
        143: True,
        993: False,
        110: False,
        995: False,
    }


def test_legacy_min_protocol(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = imap\nssl_min_protocol = TLSv1.1\n")
    assert {(f.port, f.line) for f in only(service.findings, "config.legacy-protocols")} == {
        (143, 2),
        (993, 2),
    }
    assert {x.min_tls for x in service.listeners} == {"TLSv1.1"}


def test_unbalanced_braces(tmp_path: Path) -> None:
    missing = service_of(tmp_path, "protocols = imap\nprotocol imap {\n  ssl_cert = </c\n")
    assert [(f.check, f.line) for f in missing.findings] == [("config.syntax", 2)]
    extra = service_of(tmp_path, "protocols = imap\n}\n")
    assert [(f.check, f.line) for f in extra.findings] == [("config.syntax", 2)]


def test_missing_include_is_fatal_and_include_try_is_not(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = imap\n!include_try local.conf\n!include conf.d/*.conf\n")
    (fatal,) = service.findings
    assert (fatal.check, fatal.file, fatal.line) == ("config.syntax", CONF, 3)
    assert "!include_try" in fatal.fix


def test_conflicting_filters_reported_for_the_affected_port(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        "protocols = imap\nprotocol imap {\n  ssl_cert = </imap.pem\n}\nlocal_name mail.example.org {\n"
        "  ssl_cert = </sni.pem\n}\n",
    )
    conflicts = only(service.findings, "config.syntax")
    assert {(f.port, f.line) for f in conflicts} == {(143, 3), (993, 3)}
    assert "Conflict in setting ssl_cert" in conflicts[0].message
    assert service.listeners[0].sni == ()  # Dovecot cannot serve that name at all


def test_listeners_ports_modes_and_port_zero(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        "protocols = imap pop3 submission\nssl_cert = </c\nservice imap-login {\n  inet_listener imap {\n"
        "    port = 0\n  }\n}\nservice submission-login {\n  inet_listener submissions {\n    port = 465\n"
        "    ssl = yes\n  }\n}\n",
    )
    assert [(x.name, x.port, x.mode) for x in service.listeners] == [
        ("imaps", 993, Mode.IMPLICIT),
        ("pop3", 110, Mode.STARTTLS),
        ("pop3s", 995, Mode.IMPLICIT),
        ("submission", 587, Mode.STARTTLS),
        ("submissions", 465, Mode.IMPLICIT),
    ]
    assert service.listeners[-1].location is not None and service.listeners[-1].location.line == 9


def test_debian_protocols_assumed_when_usr_share_is_not_in_root(tmp_path: Path) -> None:
    service = service_of(tmp_path, "!include_try /usr/share/dovecot/protocols.d/*.protocol\nssl_cert = </c\n")
    assert {x.port for x in service.listeners} == {143, 993, 110, 995}


def test_certificate_sources(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        "protocols = imap\nssl_cert = <certs/mail.pem\nssl_key = <certs/mail.pem\nssl_alt_cert = </ec.pem\n"
        "ssl_alt_key = </ec.key\nssl_key_password = hunter2\nprotocol imap {\n  ssl_cert = </imap.pem\n}\n",
    )
    imap = service.listeners[0]
    main, alt = imap.certificates
    assert (main.cert_files, main.key_file, main.layout) == (
        ("/imap.pem",),
        "/etc/dovecot/certs/mail.pem",
        PemLayout.SEPARATE,
    )
    assert main.setting == "ssl_cert" and main.location is not None and main.location.line == 8
    assert main.key_location is not None and main.key_location.line == 3
    assert (alt.cert_files, alt.key_file, alt.passphrase_configured) == (("/ec.pem",), "/ec.key", True)


def test_combined_file_layout(tmp_path: Path) -> None:
    service = service_of(tmp_path, "protocols = imap\nssl_cert = </mail.pem\nssl_key = </mail.pem\n")
    assert service.listeners[0].certificates[0].layout is PemLayout.COMBINED


def test_sni_names_and_config_names(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        'protocols = imap\nssl_cert = </g.pem\nlocal_name "mail.example.org imap.example.org *.example.net" {\n'
        "  ssl_cert = </org.pem\n}\nlocal_name mail.example.com {\n  ssl_cert = </com.pem\n}\n",
    )
    assert service.config_names == ("mail.example.org", "imap.example.org", "mail.example.com")
    assert [(s.names, s.source.cert_files) for s in service.listeners[0].sni] == [
        (("mail.example.org", "imap.example.org", "*.example.net"), ("/org.pem",)),
        (("mail.example.com",), ("/com.pem",)),
    ]


def test_secrets_never_reach_findings(tmp_path: Path) -> None:
    service = service_of(
        tmp_path,
        "protocols = imap\nssl_key_password = first-secret\nssl_key_password = second-secret\n"
        "ssl_key_password x-third-secret\n",
    )
    text = " ".join(f"{f.message} {f.fix}" for f in service.findings)
    # lint ROOT reads the tree as gather.sh sends it (mailcert/redaction.py): both values arrive as
    # "(hidden-by-mailcert)", so, as in an audit over SSH, only the syntax error on line 4 remains
    assert [(f.check, f.line) for f in service.findings] == [("config.syntax", 4)]
    assert not any(word in text for word in ("first-secret", "second-secret", "third-secret"))
