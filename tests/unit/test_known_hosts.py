"""known_hosts read as OpenSSH reads it: host patterns (`*`, `?`, `!negation`, `[addr]:port`, hashed names,
case), `@revoked` keys taken out of the accepted ones, `@cert-authority` and unreadable lines skipped with
one warning each kind, never an exception."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mailcert.known_hosts import host_matches, parse_known_hosts
from tests.integration.sshd_fixture import keygen, public_line


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    base = tmp_path_factory.mktemp("keys")
    keygen(base / "one")
    keygen(base / "two")
    return public_line(base / "one"), public_line(base / "two")


@pytest.mark.parametrize(
    ("name", "patterns", "matches"),
    [
        ("mx1.example.org", ("mx1.example.org",), True),
        ("MX1.Example.ORG", ("mx1.example.org",), True),
        ("mx1.example.org", ("*.example.org",), True),
        ("mx1.example.org", ("mx?.example.org",), True),
        ("mx10.example.org", ("mx?.example.org",), False),
        ("mx1.example.org", ("*.example.org", "!mx1.example.org"), False),
        ("[10.0.0.1]:2222", ("[10.0.0.1]:2222",), True),
        ("[10.0.0.1]:2222", ("10.0.0.1",), False),  # another port is another host
        ("10.0.0.1", ("[10.0.0.1]:2222",), False),
        ("[10.0.0.1]:2222", ("*",), True),
        ("[10.0.0.2]:2222", ("[10.0.0.1]:2222",), False),  # brackets are literal, not a character class
    ],
)
def test_host_patterns_match_as_openssh_matches_them(
    name: str, patterns: tuple[str, ...], matches: bool
) -> None:
    assert host_matches(name, patterns) is matches


def test_hashed_names_match_only_their_host(tmp_path: Path, keys: tuple[str, str]) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"mx1.example.org {keys[0]}\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    parsed = parse_known_hosts(str(known))
    assert len(parsed.lookup("mx1.example.org").accepted) == 1
    assert parsed.lookup("mx2.example.org").accepted == ()


def test_revoked_key_is_taken_out_and_markers_are_warned_about_once(
    tmp_path: Path, keys: tuple[str, str]
) -> None:
    one, two = keys
    known = tmp_path / "known_hosts"
    known.write_text(
        f"# comment\n\n@cert-authority *.example.org {two}\n@cert-authority * {two}\n"
        f"mx1.example.org {one}\nmx1.example.org {two}\n@revoked * {one}\n"
        "mx1.example.org ssh-ed25519 not-base64!\nmx1.example.org ssh-unknown-type AAAA\n@bogus-marker x y z\n"
        "mx1.example.org ssh-rsa AAAAB3NzaC1yc2E=\nmx1.example.org ssh-ed25519 AAAA\n"
    )
    parsed = parse_known_hosts(str(known))
    keys_for = parsed.lookup("mx1.example.org")
    assert [k.get_base64() for k in keys_for.accepted] == [two.split()[1]]
    assert [k.get_base64() for k in keys_for.revoked] == [one.split()[1]]
    assert keys_for.is_revoked(keys_for.revoked[0]) and not keys_for.is_revoked(keys_for.accepted[0])
    assert len(parsed.warnings) == 2
    assert "@cert-authority line(s) 3, 4 skipped" in parsed.warnings[0]
    assert "line(s) 8, 9, 10, 11, 12 unreadable" in parsed.warnings[1]
