"""--limit patterns as Ansible reads them: names, groups, unions, &intersections, !exclusions, globs, ~regex."""

from __future__ import annotations

import pytest

from mailcert.errors import UsageError
from mailcert.inventory import select_hosts, split_pattern

HOSTS = ["mx1", "mx2", "mx3", "imap1", "relay"]
GROUPS = {
    "all": HOSTS,
    "mail": ["mx1", "mx2", "mx3", "imap1"],
    "prod": ["mx1", "imap1"],
    "dovecot": ["imap1", "mx3"],
    "ungrouped": ["relay"],
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", set(HOSTS)),
        ("*", set(HOSTS)),
        ("mx1", {"mx1"}),
        ("prod", {"mx1", "imap1"}),
        ("mx1:relay", {"mx1", "relay"}),
        ("mx1,relay", {"mx1", "relay"}),
        ("mail:!prod", {"mx2", "mx3"}),
        ("mail:&dovecot", {"imap1", "mx3"}),
        ("mail:&dovecot:!prod", {"mx3"}),
        ("!prod:mail", {"mx2", "mx3"}),  # order does not matter: exclusions apply last
        ("!mail", {"relay"}),  # only exclusions: start from all hosts
        ("mx*", {"mx1", "mx2", "mx3"}),
        ("mx[12]", {"mx1", "mx2"}),
        ("pro*", {"mx1", "imap1"}),  # a glob matches group names too
        ("~^mx[23]$", {"mx2", "mx3"}),
    ],
)
def test_limit_patterns(pattern: str, expected: set[str]) -> None:
    assert select_hosts(pattern, HOSTS, GROUPS) == expected


def test_split_keeps_brackets_together() -> None:
    assert split_pattern("mx[1:2],!relay") == ["mx[1:2]", "!relay"]


@pytest.mark.parametrize(("pattern", "words"), [("mx9", "matches no host"), ("mail:!mail", "leaves no host")])
def test_limit_that_selects_nothing_is_an_error(pattern: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        select_hosts(pattern, HOSTS, GROUPS)
