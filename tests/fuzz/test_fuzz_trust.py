"""The trust-boundary pieces of issue 19 on generated input: known_hosts as OpenSSH reads it, the one escaping
function for host values in text, and the names central mode may request.

- known_hosts: any mix of key lines, markers (`@revoked`, `@cert-authority`, junk markers), host patterns
  (`*`, `?`, `!`, `[addr]:port`, hashed), bad base64, unknown key types, binary and blank lines parses
  without an exception; a key an `@revoked` line names for a host is never accepted for it; each warning is
  one line.
- `shown`: whatever a host sends, the result is one line with no control, bidi or line-separator
  character, and text without any of them is shown as it is.
- central names: whatever names a host's configuration adds, a name is requested only when the inventory
  grants it: a name under a domain the inventory does not list is refused, every name under a listed
  domain is granted.
"""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from pathlib import Path

import paramiko
from hypothesis import given
from hypothesis import strategies as st

from mailcert.fix.plan.central_names import granted
from mailcert.known_hosts import parse_known_hosts
from mailcert.quoting import shown
from tests.fix_trees import inventory_host
from tests.fuzz.strategies import no_hang

# Two real keys made once (key generation is not what is fuzzed).
_KEYS = [paramiko.ECDSAKey.generate(bits=256), paramiko.ECDSAKey.generate(bits=384)]
_KEY_FIELDS = [f"{k.get_name()} {k.get_base64()}" for k in _KEYS]
_HASHED = "|1|" + base64.b64encode(b"salt" * 5).decode() + "|" + base64.b64encode(b"x" * 20).decode()

PATTERN = st.one_of(
    st.sampled_from(["mx1", "mx*", "m?1", "MX1"]),  # most lines name the host looked up
    st.sampled_from(["!mx1", "*", "[10.0.0.1]:2222", "10.0.0.1", _HASHED, "|1|junk", "!*", ""]),
)
# A key line as known_hosts holds it: mostly plain or @revoked, for one of two real keys, so the same key
# is often both accepted and revoked for the same host; sometimes other markers and broken keys.
ENTRY = st.builds(
    lambda marker, patterns, key: f"{marker}{','.join(patterns)} {key}".rstrip(),
    st.sampled_from(["", "@revoked "]),
    st.lists(st.sampled_from(["mx1", "mx*", "m?1", "MX1"]), min_size=1, max_size=2),
    st.sampled_from(_KEY_FIELDS),
)
NOISE = st.one_of(
    st.builds(
        lambda marker, patterns, key: f"{marker}{','.join(patterns)} {key}".rstrip(),
        st.sampled_from(["", "@revoked ", "@cert-authority ", "@junk ", "@ "]),
        st.lists(PATTERN, min_size=1, max_size=3),
        st.one_of(
            st.sampled_from(_KEY_FIELDS),
            st.sampled_from(
                ["ssh-rsa !!!notbase64", "ssh-unknown AAAA", "ecdsa-sha2-nistp256 AAAAB3Nza", ""]
            ),
        ),
    ),
    st.sampled_from(["", "# comment", "   ", "\x00\x01", "@revoked", "mx1"]),
    st.text(max_size=40),
)
LINE = st.one_of(ENTRY, ENTRY, NOISE)
NAME = st.sampled_from(["mx1", "mx2", "MX1", "[10.0.0.1]:2222", "10.0.0.1", "other"])

# Everything `shown` must make visible: C0, DEL, C1, bidi embeddings/overrides/isolates, LRM/RLM/ALM, U+2028/9.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
HOSTILE_TEXT = st.text(
    st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from(["\n", "\r", "\x1b", "\x9b", "\u202e", "\u2066", "\u2028", "\u200f", "\x00"]),
    ),
    max_size=60,
)

LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
DOMAIN = st.builds(lambda a, b: f"{a}.{b}", LABEL, st.sampled_from(["example", "test", "example.org"]))


@given(st.lists(LINE, min_size=2, max_size=12), st.one_of(st.just("mx1"), NAME))
def test_known_hosts_parses_any_file_and_never_accepts_a_revoked_key(lines: list[str], name: str) -> None:
    with no_hang():
        path = Path(f"/tmp/mailcert-fuzz-known-hosts-{id(lines)}")
        try:
            path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
            known = parse_known_hosts(str(path))
        finally:
            path.unlink(missing_ok=True)
        for warning in known.warnings:
            assert "\n" not in warning
        keys = known.lookup(name)
        for key in keys.accepted:
            assert not keys.is_revoked(key)


@given(HOSTILE_TEXT)
def test_shown_is_one_safe_line_and_keeps_safe_text(value: str) -> None:
    result = shown(value)
    assert not UNSAFE.search(result)
    assert len(result.splitlines()) <= 1
    if not UNSAFE.search(value):
        assert result == value


@given(st.lists(DOMAIN, min_size=1, max_size=3), LABEL, DOMAIN, st.lists(DOMAIN, max_size=2), DOMAIN)
def test_central_mode_grants_only_names_the_inventory_lists(
    domains: list[str], label: str, hosts_own: str, listed: list[str], pattern_domain: str
) -> None:
    """`hosts_own` is a domain a compromised host's configuration names: unless the inventory lists it (as a
    domain, a hostname, or a parent), a name under it is never requested. A name glued to a listed domain
    (`evilexample.test` for `example.test`) is not under it; `*.D` grants one label under D, never two."""
    host = replace(
        inventory_host(vars={"mailcert_hostnames": listed}),
        domains=tuple(domains),
        hostnames=tuple(listed),
        acme_allowed_names=(f"*.{pattern_domain}",),
    )

    def covered(name: str) -> bool:
        return name in listed or any(name == d or name.endswith(f".{d}") for d in domains)

    for domain in domains:
        assert granted(domain, host)
        assert granted(f"{label}.{domain}", host)
        assert granted(f"{label}.{domain}.".upper(), host)
        glued = f"{label}{domain}"
        assert granted(glued, host) == (covered(glued) or glued.endswith(f".{pattern_domain}"))
    name = f"{label}.{hosts_own}"
    assert granted(name, host) == (covered(name) or hosts_own == pattern_domain)
    assert granted(f"{label}.{pattern_domain}", host)
    deeper = f"{label}.{label}.{pattern_domain}"
    assert granted(deeper, host) == covered(deeper)
