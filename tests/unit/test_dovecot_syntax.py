"""Dovecot 2.3 lexing: each expected value was printed by the real `doveconf -h` 2.3.19 for the same text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcert.hostfs import LocalRoot
from mailcert.services.dovecot.config import DovecotConfig, load_dovecot_config
from mailcert.services.dovecot.parser import parse_dovecot


def config_of(tmp_path: Path, text: str, extra: dict[str, str] | None = None) -> DovecotConfig:
    for name, body in {"etc/dovecot/dovecot.conf": text, **(extra or {})}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return load_dovecot_config(LocalRoot(tmp_path))


# (config text, setting, what doveconf 2.3.19 -h printed)
RECORDED = [
    ("ssl_cert=abc", "ssl_cert", "abc"),
    ('ssl_cert = a "b c"', "ssl_cert", 'a "b c"'),
    ('ssl_cert = "a" b', "ssl_cert", '"a" b'),
    ('ssl_cert = "a" "b"', "ssl_cert", 'a" "b'),
    ("ssl_cert = a #b", "ssl_cert", "a"),
    ("ssl_cert = a#b", "ssl_cert", "a"),
    ('ssl_cert = "a#b" x # y', "ssl_cert", '"a#b" x'),
    ('ssl_cert = "a" # x', "ssl_cert", "a"),
    ("ssl_cert = 'a b'", "ssl_cert", "a b"),
    ("ssl_cert = 'a\\'b'", "ssl_cert", "a'b"),
    ("ssl_cert = 'a b' c", "ssl_cert", "'a b' c"),
    ('ssl_cert = "a\\\\b\\tc\\nd"', "ssl_cert", "a\\btcnd"),
    ('ssl_cert = "abc', "ssl_cert", '"abc'),
    ("ssl_cert\t=\t\tv\t ", "ssl_cert", "v"),
    ("   ssl_cert    =    x y   ", "ssl_cert", "x y"),
    ("ssl_cert =", "ssl_cert", ""),
    ("ssl_cert = a \\", "ssl_cert", ""),  # a continuation at the end of the file is dropped
    ("ssl_cipher_list = ALL:\\\n   !aNULL", "ssl_cipher_list", "ALL: !aNULL"),
    ('ssl_cert = "a \\\n b"', "ssl_cert", "a b"),
    ("ssl_cert = </a/b#c.pem", "ssl_cert", "</a/b"),
    ("ssl_verify_client_cert = YES", "ssl_verify_client_cert", "yes"),
    ("ssl_verify_client_cert = y", "ssl_verify_client_cert", "yes"),
    ("disable_plaintext_auth = 1", "disable_plaintext_auth", "yes"),
    ("ssl_cert = a\nssl_cert = b", "ssl_cert", "b"),
    ("ssl_min_protocol = TLSv1.5", "ssl_min_protocol", "TLSv1.5"),  # accepted by doveconf, fails later
    ("ssl_protocols = !SSLv3", "ssl_min_protocol", "TLSv1"),
    ("ssl_protocols = TLSv1.2", "ssl_min_protocol", "TLSv1.2"),
    ("ssl_protocols = !SSLv3 !TLSv1 !TLSv1.1", "ssl_min_protocol", "TLSv1.2"),
    ("ssl_protocols = TLSv1.2 TLSv1.3", "ssl_min_protocol", "TLSv1.2"),  # unconvertible: default kept
    ("ssl_min_protocol = TLSv1.3\nssl_protocols = !SSLv3", "ssl_min_protocol", "TLSv1"),
    ("ssl_cert = a\nssl_cert = $ssl_cert b", "ssl_cert", "a b"),
    ("ssl_key = x $ssl_key", "ssl_key", "x "),
    ("ssl_ca = $ssl_ca", "ssl_ca", ""),
    ("ssl_cipher_list = $ssl_cipher_list:X", "ssl_cipher_list", "$ssl_cipher_list:X"),
    ('ssl_dh = "$ssl_dh z"', "ssl_dh", "$ssl_dh z"),
    ("ssl_cert = </a/b.pem\nssl_key = $ssl_cert", "ssl_key", "$ssl_cert"),  # only the same name expands
    ("protocols = $protocols imap", "protocols", " imap"),
]


@pytest.mark.parametrize(("text", "key", "expected"), RECORDED)
def test_values_as_doveconf_prints_them(tmp_path: Path, text: str, key: str, expected: str) -> None:
    assert config_of(tmp_path, text + "\n").value(key) == expected


# (config text, line doveconf named in its fatal error)
REFUSED = [
    ("ssl_cert = a\\\n  b # c\\\n d\n", 3),  # the comment hides the '\\': line 3 stands alone
    ("ssl_cert = a \\\n# hi\n b\n", 3),  # a comment line ends a continuation
    ("ssl_cert = a \\\n\nb\n", 3),
    ("service imap-login {\n inet_listener imaps { port = 994 }\n}\n", 2),
    ("protocol imap { ssl_cert = x }\n", 1),
    ("protocol imap {}\nssl_cert = y\n", 1),
    ("protocol imap\n{\nssl_cert = x\n}\n", 1),
    ("ssl_cer = x\n", 1),
    ("SSL_CERT = x\n", 1),
    ("ssl_cert x\n", 1),
    ("ssl = maybe\n", 1),
    ("ssl = Required\n", 1),
    ("ssl_verify_client_cert = n\n", 1),
    ("ssl_verify_client_cert = true\n", 1),
    ("}\nssl_cert = x\n", 1),
    ("protocol imap {\nssl_cert = x\n", 1),  # Missing '}' (section started at line 1)
    ("!include /etc/dovecot/nonexist.conf\n", 1),
    ("!include conf.d/*.nomatch\n", 1),  # 2.3: a glob that matches nothing is fatal too
    ('!include "conf.d/10-a.conf"\n', 1),  # quotes are part of the path
    ("!include dovecot.conf\n", 1),  # Recursive include file
    ("service imap-login {\n inet_listener imaps {\n  port = 99999\n }\n}\n", 3),
    ("service imap-login {\n inet_listener imaps {\n  port = 0x10\n }\n}\n", 3),
    ("protocol imap {\n local_name a {\n  ssl_cert = x\n }\n}\n", 2),
    ("protocol imap {\n protocol pop3 {\n  ssl_cert = x\n }\n}\n", 2),
    ("local_name a {\n local 1.2.3.4 {\n  ssl_cert = x\n }\n}\n", 2),
    ("remote 1.2.3.4 {\n local_name a {\n  ssl_cert = x\n }\n}\n", 2),
    ("protocol imap {\n remote 1.2.3.4 {\n  ssl_cert = x\n }\n}\n", 2),
    (
        "service imap-login {\n protocol imap {\n  ssl_cert = x\n }\n}\n",
        3,
    ),  # Unknown setting: service { ssl_cert
    ("local 1.2.3.4/33 {\n  ssl_cert = x\n}\n", 1),
]


@pytest.mark.parametrize(("text", "line"), REFUSED)
def test_refused_where_doveconf_refuses(tmp_path: Path, text: str, line: int) -> None:
    (tmp_path / "etc/dovecot/conf.d").mkdir(parents=True)
    config = config_of(tmp_path, text)
    assert ("/etc/dovecot/dovecot.conf", line) in [(p.file, p.line) for p in config.problems if p.refused]


ACCEPTED = [
    "!include_try /nonexist.conf\n",
    "!include_try nodir/*.conf\n",
    "!include conf.d\n",  # a directory reads as nothing
    "protocol imap {\n!include close.inc\nssl_key = z\n",  # a section may close in an included file
    "local_name a {\n remote 1.2.3.4 {\n  ssl_cert = x\n }\n}\n",
    "local 1.2.3.5/24 {\n ssl_cert = x\n}\n",
    "ssl_cert = a#b\n",  # doveconf only warns: Ambiguous '#'
    "ssl_protocols = !SSLv3\n",  # doveconf only warns: Obsolete setting
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted_where_doveconf_accepts(tmp_path: Path, text: str) -> None:
    (tmp_path / "etc/dovecot/conf.d").mkdir(parents=True)
    config = config_of(tmp_path, text, {"etc/dovecot/close.inc": "ssl_cert = x\n}\n"})
    assert [p for p in config.problems if p.refused] == []


def test_sections_closed_in_an_include_keep_their_context(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        "protocol imap {\n!include close.inc\nssl_key = z\n",
        {"etc/dovecot/close.inc": "ssl_cert = x\n}\n"},
    )
    # doveconf -nP printed: ssl_key = z / protocol imap { ssl_cert = x }
    assert config.non_default() == {(): {"ssl_key": "z"}, ("protocol imap",): {"ssl_cert": "x"}}


def test_include_paths_are_relative_to_the_including_file(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        "!include conf.d/*.conf\n",
        {
            "etc/dovecot/conf.d/10-a.conf": "!include ../sub/rel.inc\n",
            "etc/dovecot/sub/rel.inc": "ssl_ca = <rel-ca.pem\n",
        },
    )
    assert config.value("ssl_ca") == "<rel-ca.pem"
    # doveconf -x opened /…/sub/rel-ca.pem: relative to the file that holds the setting
    assert config.setting("ssl_ca") is not None
    assert config.setting("ssl_ca").path == "/etc/dovecot/sub/rel-ca.pem"  # type: ignore[union-attr]
    assert config.files_read == (
        "/etc/dovecot/dovecot.conf",
        "/etc/dovecot/conf.d/10-a.conf",
        "/etc/dovecot/sub/rel.inc",
    )


def test_binary_junk_and_missing_main_file_are_findings_not_errors(tmp_path: Path) -> None:
    config = config_of(tmp_path, "\x00\xff{{{ }}} = =\n\x01ssl_cert\n")
    assert config.problems
    missing = load_dovecot_config(LocalRoot(tmp_path), "/etc/dovecot/nothing.conf")
    assert [p.message for p in missing.problems] == ["cannot read /etc/dovecot/nothing.conf: no such file"]


def test_include_loop_through_two_files_stops(tmp_path: Path) -> None:
    config = config_of(tmp_path, "!include a.conf\n", {"etc/dovecot/a.conf": "!include dovecot.conf\n"})
    assert any("Recursive include" in p.message for p in config.problems)


def test_deep_include_chains_stop_with_a_finding(tmp_path: Path) -> None:
    chain = {f"etc/dovecot/{i}.conf": f"!include {i + 1}.conf\n" for i in range(100)}
    config = config_of(tmp_path, "!include 0.conf\n", chain)
    assert any("nested more than" in p.message for p in config.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(alphabet=st.sampled_from(list(" \t\n\\\"'#{}<=!$*./:abcdeilmnoprstu0123456789²")), max_size=300)
)
def test_any_text_gives_findings_never_a_traceback(tmp_path: Path, text: str) -> None:
    path = tmp_path / "etc/dovecot/dovecot.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    service = parse_dovecot(LocalRoot(tmp_path))
    assert service.service == "dovecot"
