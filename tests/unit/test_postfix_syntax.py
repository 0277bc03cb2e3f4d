"""main.cf/master.cf lexing and $ expansion; expected values checked against postconf 3.7.11 by hand
(the oracle tests re-check the same cases against the binary)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcert.facts import FileFacts, TextFile
from mailcert.services.postfix.config import PostfixConfig
from mailcert.services.postfix.expand import MacroError, expand
from mailcert.services.postfix.parser import service_config
from mailcert.services.postfix.syntax import parse_main_cf, parse_master_cf, split_nameval


def test_continuations_comments_and_blank_lines() -> None:
    text = "a = one\n\n  # dropped\n#also dropped\n\ttwo\nb=x\n  c = glued\n"
    main = parse_main_cf(text)
    assert [(d.name, d.value, d.line) for d in main.definitions] == [
        ("a", "one\ttwo", 1),  # pieces are appended as they are: postconf prints "one two"
        ("b", "x  c = glued", 6),
    ]
    assert [p.line for p in main.definitions[1].source.pieces] == [6, 7]


def test_hash_inside_a_value_is_text() -> None:
    (definition,) = parse_main_cf("smtpd_tls_cert_file = /etc/ssl/a.pem # comment\n").definitions
    assert definition.value == "/etc/ssl/a.pem # comment"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("name = value", ("name", "value")),
        ("name=value", ("name", "value")),
        ("name\t=\tvalue  \r", ("name", "value")),
        ("name == a", ("name", "= a")),
        ("name =", ("name", "")),
        ("junk line", "missing '=' after attribute name"),
        ("= x", "missing attribute name"),
        ("smtpd-banner = a", ("smtpd-banner", "a")),
    ],
)
def test_split_nameval(line: str, expected: tuple[str, str] | str) -> None:
    assert split_nameval(line) == expected


def test_last_definition_wins_and_earlier_ones_are_remembered() -> None:
    config = PostfixConfig.from_text("x = 1\nsmtpd_tls_loglevel = 1\nsmtpd_tls_loglevel = 2\n")
    assert config.value("smtpd_tls_loglevel") == "2"
    assert [d.line for d in config.definitions("smtpd_tls_loglevel")] == [2, 3]
    assert config.explicit() == {"smtpd_tls_loglevel": "2", "x": "1"}


def test_master_cf_entries_overrides_and_lines() -> None:
    text = (
        "smtp inet n - y - - smtpd\n"
        "submission inet n - y - - smtpd\n"
        "  -o syslog_name=postfix/submission\n"
        "#  -o smtpd_sasl_auth_enable=yes\n"
        "  -o { smtpd_tls_chain_files = /a.pem,\n"
        "       /b.pem }\n"
        "pickup unix n - y 60 1 pickup\n"
    )
    master = parse_master_cf(text)
    assert [(e.key, e.line, e.program) for e in master.entries] == [
        ("smtp/inet", 1, "smtpd"),
        ("submission/inet", 2, "smtpd"),
        ("pickup/unix", 7, "pickup"),
    ]
    overrides = master.entries[1].overrides
    assert [(o.name, o.value, o.line, o.long_form) for o in overrides] == [
        ("syslog_name", "postfix/submission", 3, False),
        ("smtpd_tls_chain_files", "/a.pem,\n       /b.pem".replace("\n", ""), 5, True),
    ]


def test_getopt_rules_for_overrides() -> None:
    text = (
        "1 inet n - y - - smtpd -osmtpd_tls_loglevel=1 -v -Do smtpd_tls_ask_ccert=yes\n"
        "2 inet n - y - - smtpd foo -o smtpd_tls_loglevel=2\n"
        "3 inet n - y - - smtpd -- -o smtpd_tls_loglevel=3\n"
    )
    master = parse_master_cf(text)
    assert [(o.name, o.value) for o in master.entries[0].overrides] == [
        ("smtpd_tls_loglevel", "1"),
        ("smtpd_tls_ask_ccert", "yes"),
    ]
    assert master.entries[1].overrides == ()
    assert master.entries[1].stray_arguments[0][1] == "foo"
    assert master.entries[2].overrides == ()


def test_overrides_are_evaluated_lazily_per_service() -> None:
    main_cf = (
        "smtpd_tls_cert_file = $tls_dir/chain.pem\ntls_dir = /etc/ssl/$myhostname\nmyhostname = mx.example\n"
    )
    master_cf = "smtp inet n - y - - smtpd\nsubmission inet n - y - - smtpd -o myhostname=sub.example\n"
    config = PostfixConfig.from_text(main_cf, master_cf)
    assert (
        config.value("smtpd_tls_key_file") == "/etc/ssl/mx.example/chain.pem"
    )  # default $smtpd_tls_cert_file
    assert config.value("smtpd_tls_key_file", "submission/inet") == "/etc/ssl/sub.example/chain.pem"
    assert config.overrides() == {"submission/inet/myhostname": "sub.example"}


@pytest.mark.parametrize(
    ("hostname", "main_cf", "myhostname", "mydomain"),
    [
        ("vm", "", "vm.localdomain", "localdomain"),
        ("vm", "mydomain = example.com\n", "vm.example.com", "example.com"),
        ("mx.example.com", "", "mx.example.com", "example.com"),
        ("example.com", "", "example.com", "localdomain"),
        (None, "myhostname = a.b.c\n", "a.b.c", "b.c"),
    ],
)
def test_host_name_defaults(hostname: str | None, main_cf: str, myhostname: str, mydomain: str) -> None:
    config = PostfixConfig.from_text(main_cf, "", hostname=hostname)
    assert (config.value("myhostname"), config.value("mydomain")) == (myhostname, mydomain)


def test_tls_defaults_like_postconf_d() -> None:
    config = PostfixConfig.from_text("smtpd_tls_cert_file = /c.pem\nsmtpd_tls_eccert_file = /e.pem\n")
    assert config.value("smtpd_tls_key_file") == "/c.pem"
    assert config.value("smtpd_tls_eckey_file") == "/e.pem"
    assert config.value("smtpd_tls_dkey_file") == ""
    assert config.value("smtpd_tls_security_level") == ""
    assert config.value("smtpd_use_tls") == "no"
    assert config.value("smtpd_tls_protocols") == ">=TLSv1"
    assert config.value("smtpd_tls_wrappermode") == "no"
    assert config.value("smtpd_tls_auth_only") == "no"
    assert config.value("config_directory") == "/etc/postfix"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${a?{v1}:{v2}}", "v1"),
        ("${zz?{v1}:{v2}}", "v2"),
        ("${a?x:y}", "x:y"),
        ("${zz:{x}}", "x"),
        ("$$a", "$a"),
        ("${raw?yes}", "yes"),  # the test looks at the unexpanded value "$empty"
        ("${{$a} == {1}?{eq}:{ne}}", "eq"),
    ],
)
def test_expansion_forms(text: str, expected: str) -> None:
    values = {"a": "1", "empty": "", "raw": "$empty"}
    assert expand(text, values.get) == expected


@pytest.mark.parametrize("text", ["$", "x$", "${a", "${}", "${a-b}", "${a?{x}y}", "$loop"])
def test_expansion_errors_postfix_stops_on(text: str) -> None:
    values = {"a": "1", "loop": "$loop"}
    with pytest.raises(MacroError):
        expand(text, values.get)


def test_a_thousand_line_main_cf_parses() -> None:
    lines = [f"param_{n} = $param_{n - 1} value {n}" for n in range(1, 1000)]
    config = PostfixConfig.from_text(
        "param_0 = start\n" + "\n".join(lines) + "\nsmtpd_tls_cert_file = $param_80\n"
    )
    assert config.value("smtpd_tls_cert_file").startswith("start value 1 value 2")


class _EmptyHost:
    """A host with no files besides the config under test (HostFiles)."""

    def read_config(self, path: str) -> TextFile:
        return TextFile(path=path, text=None, error="no such file")

    def pem_file(self, path: str) -> FileFacts:
        return FileFacts(path=path, exists=False, error="no such file")

    def stat(self, path: str) -> FileFacts:
        return FileFacts(path=path, exists=False, error="no such file")

    def glob(self, pattern: str) -> list[str]:
        return []

    def exists(self, path: str) -> bool:
        return False

    def is_dir(self, path: str) -> bool:
        return False

    def listdir(self, path: str) -> list[str]:
        return []


_CONFIG_ALPHABET = st.sampled_from(
    [*" \t\n\r#={}()$?:,!<>-o\\abcxyz_0123456789", "smtpd_tls_", "inet", "smtpd"]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_CONFIG_ALPHABET, max_size=80).map("".join),
    st.lists(_CONFIG_ALPHABET, max_size=80).map("".join),
)
def test_any_text_gives_findings_never_a_traceback(main_cf: str, master_cf: str) -> None:
    config = PostfixConfig.from_text(
        "smtpd_tls_security_level = may\n" + main_cf, "smtp inet n - y - - smtpd " + master_cf
    )
    result = service_config(config, _EmptyHost())
    assert all(f.check for f in result.findings)


def test_defaults_follow_the_installed_postfix_version() -> None:
    # `postconf -dh tls_medium_cipherlist tls_low_cipherlist` of Postfix 3.7.11 (Debian 12) and 3.10.13 (Debian 13)
    main_cf = "smtpd_tls_mandatory_ciphers = medium\n"
    old = PostfixConfig.from_text(main_cf, "", version="3.7.11")
    new = PostfixConfig.from_text(main_cf, "", version="3.10.13")
    unknown = PostfixConfig.from_text(main_cf, "")
    assert old.value("tls_medium_cipherlist") == "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH"
    assert new.value("tls_medium_cipherlist") == (
        "aNULL:-aNULL:HIGH:MEDIUM:!SEED:!IDEA:!3DES:!RC2:!RC4:!RC5:!kDH:!kECDH:!aDSS:!MD5:+RC4:@STRENGTH"
    )
    assert (old.value("tls_low_cipherlist"), new.value("tls_low_cipherlist")) == (
        "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH",
        "",
    )
    assert unknown.value("tls_medium_cipherlist") == old.value("tls_medium_cipherlist")
    assert new.value("smtpd_tls_protocols") == old.value("smtpd_tls_protocols") == ">=TLSv1"
