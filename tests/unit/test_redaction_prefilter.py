"""The redaction rule's quick pre-check (`_MAY_HOLD_SECRET`) never skips a line a rule would change."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from mailcert import redaction

FRAGMENTS = st.sampled_from(
    [
        "pass",
        "PASS",
        "paſs",
        "Secret",
        "TOKEN",
        "pw",
        "hmac",
        "Credential",
        "api_key",
        "APIKEY",
        "dns-x.key",
        "dns_KEY",
        "connect",
        "hide",
        "hide tls_",
        "_servers",
        "server_condition",
        "client_send",
        "://u:p@h",
        "$6$salt$hash",
        "$y$j9T$",
        "=",
        ":",
        " ",
        "\t",
        "export ",
        "K",
        "İ",
        "ı",
        "{",
        "#",
        "\\",
        "smtp",
        "é",
    ]
)
LINES = st.lists(FRAGMENTS | st.text(max_size=8), max_size=12).map("".join)


def _rules_match(line: str) -> bool:
    rules = [*redaction._WHOLE_VALUE, redaction._URL_PASSWORD, *redaction._CRYPT_HASHES]
    return any(rule.search(line) for rule in rules)


@given(LINES)
@example("paſsword = x")
@example("db_PASSWORD: x")
@example("ldap://admin:hunter2@ldap")
def test_a_line_without_the_pre_check_words_matches_no_rule(line: str) -> None:
    if not redaction._MAY_HOLD_SECRET.search(line):
        assert not _rules_match(line)
