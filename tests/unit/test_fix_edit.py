"""The config editors change one setting and keep the rest of the file byte for byte; hostile values never
reach a file. Expected texts are written by hand; Postfix results are read back with the real postconf."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcert.errors import MailcertError
from mailcert.fix import values
from mailcert.fix.edit.dovecot import append_setting, set_block_setting, set_setting
from mailcert.fix.edit.exim import set_option
from mailcert.fix.edit.postfix import (
    dedent,
    move_trailing_comment,
    remove_master_option,
    set_main_cf,
    set_master_option,
)
from mailcert.services.postfix.syntax import parse_main_cf

MAIN = """\
# TLS for the MX
myhostname = mx.example.test

# the certificate (renewed by certbot)
smtpd_tls_cert_file = /etc/ssl/old.pem
smtpd_tls_key_file = /etc/ssl/old.key
smtpd_tls_security_level = may
"""

MASTER = """\
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_wrappermode=yes
submissions inet n      -       y       -       -       smtpd
  -o syslog_name=postfix/submissions
  -o smtpd_tls_wrapermode=yes
pickup    unix  n       -       y       60      1       pickup
"""


def test_main_cf_value_replaced_on_its_line_comments_and_order_kept() -> None:
    out = set_main_cf(MAIN, "smtpd_tls_cert_file", "/etc/letsencrypt/live/mx/fullchain.pem")
    assert out == MAIN.replace("/etc/ssl/old.pem", "/etc/letsencrypt/live/mx/fullchain.pem")


def test_main_cf_value_continued_on_indented_lines_replaced_whole() -> None:
    text = MAIN.replace("/etc/ssl/old.pem\n", "/etc/ssl/old.pem,\n    /etc/ssl/extra.pem\n")
    out = set_main_cf(text, "smtpd_tls_cert_file", "/new.pem")
    assert out == MAIN.replace("/etc/ssl/old.pem", "/new.pem")


def test_main_cf_parameter_absent_is_appended() -> None:
    out = set_main_cf(MAIN, "smtpd_tls_chain_files", "/k.pem, /c.pem")
    assert out == MAIN + "smtpd_tls_chain_files = /k.pem, /c.pem\n"
    assert set_main_cf("a = b", "c", "d") == "a = b\nc = d\n"


def test_main_cf_earlier_definitions_commented_out_last_one_changed() -> None:
    text = MAIN + "smtpd_tls_cert_file = /etc/ssl/snakeoil.pem\n"
    out = set_main_cf(text, "smtpd_tls_cert_file", "/new.pem").splitlines()
    assert out[4].startswith("#smtpd_tls_cert_file = /etc/ssl/old.pem")
    assert out[-1] == "smtpd_tls_cert_file = /new.pem"
    assert len(out) == len(text.splitlines())


def test_crlf_file_stays_crlf() -> None:
    text = MAIN.replace("\n", "\r\n")
    out = set_main_cf(text, "smtpd_tls_key_file", "/k.pem")
    assert out == text.replace("/etc/ssl/old.key", "/k.pem")


def test_a_few_crlf_lines_edited_by_hand_keep_their_endings_and_the_right_line_changes() -> None:
    # found by the lab's compound matrix (tests/lab/test_fix_compound.py, hand-edited): with any CRLF in the
    # file, lines were split at CRLF only, so the parser's line numbers (LF) pointed past the end: IndexError
    text = (
        "# TLS\n"
        "# set by hand (ticket 4711)\r\n"
        "#\tdo not touch\r\n"
        "smtpd_tls_cert_file   =   /etc/letsencrypt/live/mx/cert.pem\n"
        "smtpd_tls_key_file = /etc/letsencrypt/live/mx/privkey.pem\n"
    )
    out = set_main_cf(text, "smtpd_tls_cert_file", "/etc/letsencrypt/live/mx/fullchain.pem")
    assert out == (
        "# TLS\n"
        "# set by hand (ticket 4711)\r\n"
        "#\tdo not touch\r\n"
        "smtpd_tls_cert_file = /etc/letsencrypt/live/mx/fullchain.pem\n"
        "smtpd_tls_key_file = /etc/letsencrypt/live/mx/privkey.pem\n"
    )


def test_a_crlf_line_set_by_the_editor_keeps_its_crlf_and_an_appended_line_gets_lf() -> None:
    text = "# local\r\nssl_cert =  /etc/letsencrypt/live/mx/fullchain.pem\r\nssl_key = </k.pem\n"
    out = set_setting(text, 2, "ssl_cert", "</etc/letsencrypt/live/mx/fullchain.pem")
    assert out == "# local\r\nssl_cert = </etc/letsencrypt/live/mx/fullchain.pem\r\nssl_key = </k.pem\n"
    assert append_setting(text, "ssl_min_protocol", "TLSv1.2").endswith(
        "ssl_key = </k.pem\nssl_min_protocol = TLSv1.2\n"
    )


def test_a_file_without_final_newline_is_written_back_without_one() -> None:
    text = "# a\r\nsmtpd_tls_key_file = /old.pem"
    assert set_main_cf(text, "smtpd_tls_key_file", "/k.pem") == "# a\r\nsmtpd_tls_key_file = /k.pem"


@pytest.mark.parametrize(
    "value",
    [
        "/etc/x.pem\nsmtpd_tls_security_level = none",
        "/etc/x.pem\rsmtpd_tls_security_level = none",
        "/etc/x.pem # note",
        "/etc/x\x00.pem",
        "${evil}",
    ],
)
def test_hostile_postfix_value_refused(value: str) -> None:
    with pytest.raises(MailcertError):
        set_main_cf(MAIN, "smtpd_tls_cert_file", value)


def test_trailing_comment_moved_to_its_own_line() -> None:
    text = MAIN.replace("/etc/ssl/old.pem", "/etc/ssl/old.pem # LE cert")
    out = move_trailing_comment(text, 5)
    assert out == MAIN.replace("smtpd_tls_cert_file =", "# LE cert\nsmtpd_tls_cert_file =")


def test_glued_line_dedented() -> None:
    text = MAIN.replace("smtpd_tls_security_level", "  smtpd_tls_security_level")
    assert dedent(text, 7) == MAIN


def test_master_typo_corrected_in_place() -> None:
    out = set_master_option(MASTER, 5, "smtpd_tls_wrappermode", "yes", replaces="smtpd_tls_wrapermode")
    assert out == MASTER.replace("wrapermode", "wrappermode")


def test_master_option_added_after_the_entry() -> None:
    out = set_master_option(MASTER, 1, "smtpd_tls_security_level", "may")
    lines = out.splitlines()
    assert lines[:2] == [MASTER.splitlines()[0], "  -o smtpd_tls_security_level=may"]
    assert lines[2:] == MASTER.splitlines()[1:]


def test_master_option_removed_with_its_line() -> None:
    out = remove_master_option(MASTER, 2, "smtpd_tls_wrappermode")
    assert out == MASTER.replace("  -o smtpd_tls_wrappermode=yes\n", "")


def test_master_option_value_with_space_refused() -> None:
    with pytest.raises(MailcertError):
        set_master_option(MASTER, 1, "smtpd_tls_cert_file", "/a b")


@pytest.mark.skipif(
    shutil.which("postconf") is None and os.geteuid() != 0, reason="postconf (Postfix) is not installed here"
)
def test_postconf_reads_the_edited_files_as_intended(tmp_path: Path) -> None:
    text = MAIN.replace("/etc/ssl/old.pem", "/etc/ssl/old.pem # LE cert").replace(
        "smtpd_tls_security_level", "  smtpd_tls_security_level"
    )
    text = dedent(move_trailing_comment(text, 5), 8)
    (tmp_path / "main.cf").write_text(text)
    (tmp_path / "master.cf").write_text(
        set_master_option(MASTER, 5, "smtpd_tls_wrappermode", "yes", replaces="smtpd_tls_wrapermode")
    )

    def postconf(*args: str) -> str:
        return subprocess.run(
            ["postconf", "-c", str(tmp_path), *args], check=True, capture_output=True, text=True
        ).stdout

    assert postconf("-nh", "smtpd_tls_cert_file").strip() == "/etc/ssl/old.pem"
    assert postconf("-nh", "smtpd_tls_security_level").strip() == "may"
    assert postconf("-nh", "smtpd_tls_key_file").strip() == "/etc/ssl/old.key"
    assert "submissions/inet/smtpd_tls_wrappermode = yes" in postconf("-P")


DOVECOT = """\
ssl = required
ssl_cert = /etc/ssl/mail.pem   # from the old setup
ssl_key = </etc/ssl/private/mail.key
service imap-login {
  inet_listener imaps {
    port = 993
  }
  inet_listener imap {
    port = 143
    ssl = yes
  }
}
"""


def test_dovecot_setting_rewritten_with_indent_and_comment() -> None:
    out = set_setting(DOVECOT, 2, "ssl_cert", "</etc/letsencrypt/live/mx/fullchain.pem")
    assert out.splitlines()[1] == "ssl_cert = </etc/letsencrypt/live/mx/fullchain.pem   # from the old setup"
    assert out.splitlines()[2:] == DOVECOT.splitlines()[2:]


def test_dovecot_wrong_line_is_an_error_not_a_guess() -> None:
    with pytest.raises(MailcertError, match="does not set ssl_cert"):
        set_setting(DOVECOT, 3, "ssl_cert", "</x.pem")


def test_dovecot_listener_ssl_added_inside_the_block() -> None:
    out = set_block_setting(DOVECOT, 5, "ssl", "yes")
    assert out == DOVECOT.replace("    port = 993\n", "    port = 993\n    ssl = yes\n")


def test_dovecot_listener_ssl_changed_in_place() -> None:
    out = set_block_setting(DOVECOT, 8, "ssl", "no")
    assert out == DOVECOT.replace("port = 143\n    ssl = yes", "port = 143\n    ssl = no")


def test_dovecot_append() -> None:
    assert append_setting(DOVECOT, "ssl_key", "</k.pem") == DOVECOT + "ssl_key = </k.pem\n"


@pytest.mark.parametrize("value", ["</x.pem\nssl = no", '</x"y', "</x}", "</x{", "</x # y"])
def test_hostile_dovecot_value_refused(value: str) -> None:
    with pytest.raises(MailcertError):
        set_setting(DOVECOT, 2, "ssl_cert", value)


def test_exim_debian_macro_rewritten() -> None:
    text = "MAIN_TLS_ENABLE = yes\nMAIN_TLS_CERTIFICATE = /etc/exim4/exim.crt\n"
    out = set_option(text, 2, "tls_certificate", "/etc/letsencrypt/live/mx/fullchain.pem")
    assert out == "MAIN_TLS_ENABLE = yes\nMAIN_TLS_CERTIFICATE = /etc/letsencrypt/live/mx/fullchain.pem\n"
    with pytest.raises(MailcertError):
        set_option(text, 2, "tls_certificate", "/x/${run{id}}")


def test_value_checks() -> None:
    assert values.hostname("*.example.test") == "*.example.test"
    for bad in ("mail.example.test\nsmtpd_x = y", "-bad.example", "a..b", "", "a b"):
        with pytest.raises(MailcertError):
            values.hostname(bad)
    for bad in ("relative/path", "/a b", "/a\nb", "/a/../etc/shadow", "/a#b", "/a$b"):
        with pytest.raises(MailcertError):
            values.path(bad)
    with pytest.raises(MailcertError, match=r"\\n"):
        values.path("/a\nb")  # the message shows the newline escaped, on one line


# -- properties: whatever the file holds, the edit sets exactly the one parameter ---------------------------

_LINES = st.sampled_from(
    [
        "smtpd_tls_cert_file = /etc/ssl/a.pem",
        "smtpd_tls_cert_file=/etc/ssl/b.pem",
        "  /etc/ssl/continued.pem",
        "\tsmtpd_tls_key_file = /glued.key",
        "smtpd_tls_key_file = /etc/ssl/k.pem",
        "# smtpd_tls_cert_file = /commented.pem",
        "   # indented comment",
        "",
        "myhostname = mx.example.test",
        "mydestination = $myhostname,",
        "    localhost",
        "broken line without equals",
        "= no name",
        "smtpd_tls_cert_file = /etc/ssl/x.pem # note",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=12), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_set_main_cf_sets_the_parameter_and_nothing_else(lines: list[str], newline: str, final: bool) -> None:
    text = newline.join(lines) + (newline if final and lines else "")
    before = parse_main_cf(text.replace("\r\n", "\n"))
    out = set_main_cf(text, "smtpd_tls_cert_file", "/etc/letsencrypt/live/mx/fullchain.pem")
    after = parse_main_cf(out.replace("\r\n", "\n"))
    values_after = {d.name: d.value for d in after.definitions}
    assert values_after["smtpd_tls_cert_file"] == "/etc/letsencrypt/live/mx/fullchain.pem"
    assert [d.name for d in after.definitions].count("smtpd_tls_cert_file") == 1
    others_before = {d.name: d.value for d in before.definitions if d.name != "smtpd_tls_cert_file"}
    assert {k: v for k, v in values_after.items() if k != "smtpd_tls_cert_file"} == others_before
    if "\r\n" in text:
        assert "\n" not in out.replace("\r\n", "")  # the file keeps its CRLF line ends
