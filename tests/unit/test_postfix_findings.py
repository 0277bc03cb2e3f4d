"""Findings the Postfix parser decides, on small host trees under a ROOT (what `mailcert lint ROOT` reads).

Expected values follow the reference scenarios (mail-tls-config.md §9) and what postconf 3.7 says about the
same files (its warnings are quoted in the comments).
"""

import os
from pathlib import Path

import pytest

from mailcert.errors import MailcertError
from mailcert.hostfs import LocalRoot
from mailcert.model import Finding, Mode, Severity
from mailcert.services.model import PemLayout, ServiceConfig
from mailcert.services.postfix.parser import parse_postfix

LE = "/etc/letsencrypt/live/mail.example.com"
TLS = f"smtpd_tls_cert_file = {LE}/fullchain.pem\nsmtpd_tls_key_file = {LE}/privkey.pem\n"
SMTP = "smtp      inet  n       -       y       -       -       smtpd\n"
SUBMISSION = (
    "submission inet n       -       y       -       -       smtpd\n"
    "  -o syslog_name=postfix/submission\n"
    "  -o smtpd_tls_security_level=encrypt\n"
)
SUBMISSIONS = (
    "submissions inet n       -       y       -       -       smtpd\n  -o smtpd_tls_wrappermode=yes\n"
)


def write(root: Path, host_path: str, text: str, *, age: float | None = None) -> None:
    target = root / host_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    if age is not None:
        when = 1_700_000_000 - age
        os.utime(target, (when, when))


def parse(tmp_path: Path, main_cf: str, master_cf: str | None = SMTP, **files: str) -> ServiceConfig:
    write(tmp_path, "/etc/postfix/main.cf", main_cf)
    if master_cf is not None:
        write(tmp_path, "/etc/postfix/master.cf", master_cf)
    for path, text in files.items():
        write(tmp_path, "/" + path.replace("__", "/"), text)
    return parse_postfix(LocalRoot(tmp_path))


def only(config: ServiceConfig, check: str) -> Finding:
    found = [f for f in config.findings if f.check == check]
    assert len(found) == 1, [(f.check, f.message) for f in config.findings]
    return found[0]


def checks(config: ServiceConfig) -> list[str]:
    return sorted(f.check for f in config.findings)


def test_healthy_setup_has_no_findings(tmp_path: Path) -> None:
    main_cf = (
        "myhostname = mail.example.com\n"
        f"smtpd_tls_chain_files = {LE}/privkey.pem, {LE}/fullchain.pem\n"
        "smtpd_tls_security_level = may\nsmtpd_tls_auth_only = yes\nsmtpd_sasl_auth_enable = yes\n"
    )
    config = parse(tmp_path, main_cf, SMTP + SUBMISSION + SUBMISSIONS)
    assert config.findings == ()
    assert [(x.name, x.port, x.mode, x.tls_enabled) for x in config.listeners] == [
        ("smtp", 25, Mode.STARTTLS, True),
        ("submission", 587, Mode.STARTTLS, True),
        ("submissions", 465, Mode.IMPLICIT, True),
    ]
    assert config.config_names == ("mail.example.com",)
    assert config.files_read == ("/etc/postfix/main.cf", "/etc/postfix/master.cf")


def test_trailing_comment_is_part_of_the_value(tmp_path: Path) -> None:
    main_cf = (
        "smtpd_tls_security_level = may\n"
        f"smtpd_tls_cert_file = {LE}/fullchain.pem # LE cert\n"
        f"smtpd_tls_key_file = {LE}/privkey.pem\n"
    )
    config = parse(tmp_path, main_cf)
    finding = only(config, "config.syntax")
    assert (finding.file, finding.line, finding.severity) == ("/etc/postfix/main.cf", 2, Severity.CRITICAL)
    assert "'# LE cert'" in finding.message
    assert f"smtpd_tls_cert_file = {LE}/fullchain.pem`" in finding.fix
    # Postfix really opens the file named with the comment (postconf -xh prints it so).
    assert config.listeners[0].certificates[0].cert_files == (f"{LE}/fullchain.pem # LE cert",)


def test_indented_parameter_is_glued_to_the_previous_one(tmp_path: Path) -> None:
    main_cf = "smtpd_tls_cert_file = /etc/ssl/k.pem\nsmtpd_tls_key_file = /etc/ssl/k.pem\n  smtpd_tls_security_level = may\n"
    config = parse(tmp_path, main_cf)
    finding = only(config, "config.syntax")
    assert finding.line == 3
    assert "continuation of smtpd_tls_key_file (line 2)" in finding.message
    assert "smtpd_tls_security_level is not set" in finding.message
    listener = config.listeners[0]
    assert listener.tls_enabled is False  # the level never got set
    assert listener.certificates[0].key_file == "/etc/ssl/k.pem  smtpd_tls_security_level = may"


def test_glued_line_of_any_lower_case_name(tmp_path: Path) -> None:
    # The reference example: `  continued = nope` becomes part of the eccert file name.
    main_cf = "smtpd_tls_eccert_file = ${config_directory}/x.pem\n  continued = nope\n"
    finding = only(parse(tmp_path, main_cf), "config.syntax")
    assert finding.line == 2
    assert "'/etc/postfix/x.pem continued = nope'" in finding.message


def test_shell_variables_in_debugger_command_are_not_glued_parameters(tmp_path: Path) -> None:
    # From Postfix's own sample main.cf.
    main_cf = (
        TLS + "debugger_command =\n\t PATH=/bin:/usr/bin\n\t ddd $daemon_directory/$process_name & sleep 5\n"
    )
    assert "config.syntax" not in checks(parse(tmp_path, main_cf))


def test_glued_line_inside_an_inline_table_is_not_a_mistake(tmp_path: Path) -> None:
    main_cf = (
        TLS
        + "smtpd_tls_security_level = may\ntls_server_sni_maps = inline:{\n  { a.example = /k.pem /c.pem } }\n"
    )
    assert "config.syntax" not in checks(parse(tmp_path, main_cf))


def test_duplicate_definition_names_the_winner(tmp_path: Path) -> None:
    filler = "".join(f"# note {n}\n" for n in range(40))
    main_cf = (
        "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = /etc/new/fullchain.pem\n"
        + filler
        + "smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem\n"
    )
    config = parse(tmp_path, main_cf)
    finding = only(config, "config.overridden")
    assert (finding.line, finding.severity) == (2, Severity.WARNING)
    assert "again on line 43" in finding.message
    assert "'/etc/ssl/certs/ssl-cert-snakeoil.pem'" in finding.message
    assert config.listeners[0].certificates[0].cert_files == ("/etc/ssl/certs/ssl-cert-snakeoil.pem",)


def test_legacy_certificate_ignored_when_chain_files_set(tmp_path: Path) -> None:
    main_cf = (
        "smtpd_tls_security_level = may\nsmtpd_tls_chain_files = /etc/new.pem\n"
        "smtpd_tls_cert_file = /etc/old.pem\n"
    )
    config = parse(tmp_path, main_cf)
    finding = only(config, "config.overridden")
    assert (finding.line, finding.port) == (3, 25)
    assert "smtpd_tls_cert_file = /etc/old.pem is ignored" in finding.message
    (source,) = config.listeners[0].certificates
    assert (source.cert_files, source.layout, source.setting) == (
        ("/etc/new.pem",),
        PemLayout.KEY_FIRST,
        "smtpd_tls_chain_files",
    )


def test_typo_in_wrappermode_override_leaves_465_in_plaintext(tmp_path: Path) -> None:
    # postconf: "warning: ./master.cf: unused parameter: smtpd_tls_wrapermode=yes"
    master_cf = SMTP + "submissions inet n - y - - smtpd\n  -o smtpd_tls_wrapermode=yes\n"
    config = parse(tmp_path, TLS + "smtpd_tls_security_level = may\n", master_cf)
    syntax = only(config, "config.syntax")
    assert (syntax.file, syntax.line) == ("/etc/postfix/master.cf", 3)
    assert "did you mean smtpd_tls_wrappermode" in syntax.message
    assert syntax.fix == "rename it to smtpd_tls_wrappermode"
    mode = only(config, "config.mode-mismatch")
    assert (mode.port, mode.line, mode.severity) == (465, 3, Severity.CRITICAL)
    assert "wrong version number" in mode.message
    assert config.listeners[1].mode is Mode.STARTTLS


def test_unknown_main_cf_tls_name_gets_a_suggestion(tmp_path: Path) -> None:
    main_cf = TLS + "smtpd_tls_security_level = may\nsmtpd_tls_cert_fle = /typo.pem\n"
    finding = only(parse(tmp_path, main_cf), "config.syntax")
    assert finding.line == 4
    assert "unknown parameter smtpd_tls_cert_fle (did you mean smtpd_tls_cert_file?)" in finding.message


def test_own_parameter_used_as_a_macro_is_not_a_typo(tmp_path: Path) -> None:
    main_cf = "my_tls_dir = /etc/ssl/mail\nsmtpd_tls_cert_file = $my_tls_dir/chain.pem\nsmtpd_tls_security_level = may\n"
    config = parse(tmp_path, main_cf)
    assert config.findings == ()
    assert config.listeners[0].certificates[0].cert_files == ("/etc/ssl/mail/chain.pem",)


def test_submission_without_tls(tmp_path: Path) -> None:
    master_cf = SMTP + "submission inet n - y - - smtpd\n  -o smtpd_sasl_auth_enable=yes\n"
    config = parse(tmp_path, TLS, master_cf)
    disabled = only(config, "config.tls-disabled")
    assert (disabled.port, disabled.severity) == (587, Severity.CRITICAL)
    assert "smtpd_tls_security_level is empty" in disabled.message
    assert "-o smtpd_tls_security_level=encrypt" in disabled.fix
    assert only(config, "config.plaintext-auth").port == 587
    assert [x.tls_enabled for x in config.listeners] == [False, False]  # port 25 without TLS: no finding


def test_security_level_none_on_port_25(tmp_path: Path) -> None:
    config = parse(tmp_path, TLS + "smtpd_tls_security_level = none\n")
    finding = only(config, "config.tls-disabled")
    assert (finding.port, finding.line) == (25, 3)
    assert "smtpd_tls_security_level = none" in finding.message


def test_no_tls_on_loopback_content_filter_port_is_fine(tmp_path: Path) -> None:
    master_cf = SMTP + "127.0.0.1:10025 inet n - n - - smtpd\n  -o smtpd_tls_security_level=none\n"
    config = parse(tmp_path, TLS + "smtpd_tls_security_level = may\n", master_cf)
    assert config.findings == ()
    assert [(x.port, x.tls_enabled) for x in config.listeners] == [(25, True), (10025, False)]


def test_tls_on_without_any_certificate(tmp_path: Path) -> None:
    config = parse(tmp_path, "smtpd_tls_security_level = may\n")
    finding = only(config, "config.tls-disabled")
    assert "No server certs available" in finding.message


def test_wrappermode_leaking_onto_587_across_comment_lines(tmp_path: Path) -> None:
    # LAB.md: uncommenting one -o under a still-commented submissions entry turned 587 into implicit TLS.
    master_cf = (
        SMTP + SUBMISSION + "#submissions     inet  n       -       y       -       -       smtpd\n"
        "#  -o syslog_name=postfix/submissions\n"
        "  -o smtpd_tls_wrappermode=yes\n"
    )
    config = parse(tmp_path, TLS + "smtpd_tls_security_level = may\n", master_cf)
    finding = only(config, "config.mode-mismatch")
    assert (finding.port, finding.line) == (587, 7)
    assert [x.mode for x in config.listeners] == [Mode.STARTTLS, Mode.IMPLICIT]


def test_465_without_wrappermode(tmp_path: Path) -> None:
    master_cf = SMTP + "smtps inet n - y - - smtpd\n"
    finding = only(
        parse(tmp_path, TLS + "smtpd_tls_security_level = may\n", master_cf), "config.mode-mismatch"
    )
    assert (finding.port, finding.line) == (465, 2)
    assert "-o smtpd_tls_wrappermode=yes" in finding.fix


@pytest.mark.parametrize(
    ("protocols", "severity", "min_tls"),
    [
        ("smtpd_tls_protocols = !SSLv2, !SSLv3", Severity.WARNING, "TLSv1"),
        ("smtpd_tls_protocols = TLSv1", Severity.CRITICAL, "TLSv1"),
        ("smtpd_tls_protocols = >=TLSv1.1", Severity.WARNING, "TLSv1.1"),
        ("smtpd_tls_protocols = >=TLSv1.2", None, "TLSv1.2"),
        ("smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1", None, "TLSv1.2"),
        ("smtpd_tls_protocols = >=0x0303", None, "TLSv1.2"),
        ("smtpd_tls_mandatory_protocols = TLSv1", None, "TLSv1"),  # not used at level may
        ("", None, "TLSv1"),  # Postfix's default >=TLSv1 is left alone (OpenSSL 3 refuses 1.0/1.1 anyway)
    ],
)
def test_protocol_settings(tmp_path: Path, protocols: str, severity: Severity | None, min_tls: str) -> None:
    config = parse(tmp_path, TLS + f"smtpd_tls_security_level = may\n{protocols}\n")
    found = [f for f in config.findings if f.check == "config.legacy-protocols"]
    assert [f.severity for f in found] == ([severity] if severity else [])
    assert config.listeners[0].min_tls == min_tls


def test_mandatory_protocols_apply_when_tls_is_required(tmp_path: Path) -> None:
    main_cf = TLS + "smtpd_tls_security_level = may\nsmtpd_tls_mandatory_protocols = TLSv1\n"
    config = parse(tmp_path, main_cf, SMTP + SUBMISSION)
    finding = only(config, "config.legacy-protocols")
    assert (finding.port, finding.severity, finding.line) == (587, Severity.CRITICAL, 4)
    assert [x.min_tls for x in config.listeners] == ["TLSv1", "TLSv1"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("", True),
        ("smtpd_tls_auth_only = yes\n", False),
        ("smtpd_tls_security_level = encrypt\n", False),
    ],
)
def test_plaintext_auth(tmp_path: Path, extra: str, expected: bool) -> None:
    main_cf = TLS + "smtpd_tls_security_level = may\nsmtpd_sasl_auth_enable = yes\n" + extra
    main_cf = main_cf.replace("smtpd_tls_security_level = may\n", "") if "level" in extra else main_cf
    config = parse(tmp_path, main_cf)
    assert config.listeners[0].plaintext_auth is expected
    assert ("config.plaintext-auth" in checks(config)) is expected


def test_wrappermode_port_never_has_plaintext_auth(tmp_path: Path) -> None:
    master_cf = SMTP + SUBMISSIONS + "  -o smtpd_sasl_auth_enable=yes\n"
    config = parse(tmp_path, TLS, master_cf)
    assert config.listeners[1].plaintext_auth is False
    assert config.findings == ()


def test_bad_boolean_and_unknown_level_are_syntax_errors(tmp_path: Path) -> None:
    main_cf = TLS + "smtpd_tls_security_level = mandatory\n"
    master_cf = SMTP + "submissions inet n - y - - smtpd -o smtpd_tls_wrappermode=true\n"
    config = parse(tmp_path, main_cf, master_cf)
    messages = [f.message for f in config.findings if f.check == "config.syntax"]
    assert any("'mandatory' is not a server TLS level" in m for m in messages)
    assert any("smtpd_tls_wrappermode = 'true' is not a boolean" in m for m in messages)


def test_macro_loop_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    main_cf = "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = $smtpd_tls_key_file\n"
    config = parse(tmp_path, main_cf)
    assert any("macro processing error" in f.message for f in config.findings if f.check == "config.syntax")


def test_lines_postfix_refuses(tmp_path: Path) -> None:
    main_cf = "  smtpd_tls_loglevel = 1\nsmtpd_tls_security_level = may\njunk line\n"
    config = parse(tmp_path, main_cf)
    found = sorted((f.line or 0, f.message) for f in config.findings if f.check == "config.syntax")
    assert [line for line, _ in found] == [1, 3]
    assert "no line above it to continue" in found[0][1]
    assert "missing '=' after attribute name" in found[1][1]


def test_comment_word_in_master_cf_stops_option_parsing(tmp_path: Path) -> None:
    master_cf = (
        SMTP
        + "submissions inet n - y - - smtpd -o smtpd_sasl_auth_enable=yes # TLS\n  -o smtpd_tls_wrappermode=yes\n"
    )
    config = parse(tmp_path, TLS + "smtpd_tls_security_level = may\n", master_cf)
    syntax = [f for f in config.findings if f.check == "config.syntax"]
    assert [f.line for f in syntax] == [2]
    assert "'#' starts a comment only at the beginning of a line" in syntax[0].message
    assert only(config, "config.mode-mismatch").port == 465


def test_duplicate_master_entry_is_overridden(tmp_path: Path) -> None:
    master_cf = SMTP + "submission inet n - y - - smtpd -o smtpd_tls_security_level=none\n" + SUBMISSION
    config = parse(tmp_path, TLS + "smtpd_tls_security_level = may\n", master_cf)
    finding = only(config, "config.overridden")
    assert finding.line == 2
    assert "defined again on line 3" in finding.message
    assert [x.tls_enabled for x in config.listeners] == [True, True]


def test_missing_master_cf(tmp_path: Path) -> None:
    config = parse(tmp_path, TLS, None)
    assert config.listeners == ()
    assert "master.cf is missing" in only(config, "config.syntax").message


def test_unreadable_main_cf_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "etc/postfix/main.cf").mkdir(parents=True)
    with pytest.raises(MailcertError, match=r"main\.cf"):
        parse_postfix(LocalRoot(tmp_path))


def test_binary_junk_does_not_crash(tmp_path: Path) -> None:
    junk = bytes(range(256)).decode("latin-1") * 4
    config = parse(tmp_path, junk, junk)
    assert all(f.check == "config.syntax" for f in config.findings)


def test_symbolic_service_names_come_from_the_hosts_etc_services(tmp_path: Path) -> None:
    master_cf = (
        SMTP
        + "127.0.0.1:mysubmit inet n - y - - smtpd -o smtpd_tls_security_level=encrypt\nnosuch inet n - y - - smtpd\n"
    )
    services = "smtp 25/tcp mail\nmysubmit\t2587/tcp  alias # local\n"
    config = parse(tmp_path, TLS + "smtpd_tls_security_level = may\n", master_cf, etc__services=services)
    assert [(x.name, x.port) for x in config.listeners] == [("smtp", 25), ("mysubmit", 2587)]
    assert "'nosuch'" in only(config, "config.syntax").message


def test_myhostname_default_from_etc_hostname_and_mydomain(tmp_path: Path) -> None:
    main_cf = "mydomain = example.net\n" + TLS + "smtpd_tls_security_level = may\n"
    config = parse(tmp_path, main_cf, SMTP, etc__hostname="mx1\n")
    assert config.config_names == ("mx1.example.net",)


def test_short_hostname_without_mydomain_is_not_a_client_name(tmp_path: Path) -> None:
    config = parse(tmp_path, TLS, SMTP, etc__hostname="mx1\n")
    assert config.config_names == ()  # Postfix would say mx1.localdomain


def test_comment_inside_a_long_form_override(tmp_path: Path) -> None:
    master_cf = SMTP + "submission inet n - y - - smtpd\n  -o { smtpd_tls_security_level = encrypt # MUAs }\n"
    config = parse(tmp_path, TLS + "smtpd_tls_security_level = may\n", master_cf)
    messages = [(f.line, f.message) for f in config.findings if f.check == "config.syntax"]
    assert len(messages) == 2  # the comment, and the level Postfix rejects ("encrypt # MUAs")
    assert messages[0][0] == 3 and "'# MUAs'" in messages[0][1]
    assert "'encrypt # MUAs' is not a server TLS level" in messages[1][1]
