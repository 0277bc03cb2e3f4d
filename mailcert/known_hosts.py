"""known_hosts read the way OpenSSH reads it, for the keys of one host.

paramiko's HostKeys raises InvalidHostKey on any `@cert-authority` or `@revoked` line, which turned a
fleet's known_hosts with one such line into every host UNKNOWN. Here:
- plain lines give the keys a host may offer; host patterns follow OpenSSH (`*`, `?`, `!negation`,
  `[addr]:port`, hashed `|1|salt|hash` names), compared without case;
- `@revoked` lines name keys that are refused for the hosts they match, even when a plain line lists
  the same key (OpenSSH: a revoked key is never accepted);
- `@cert-authority` lines are skipped with one warning: host certificates are not checked, so a host
  known only through a CA is refused as unknown, never accepted;
- a line that cannot be read (bad base64, unknown key type) is skipped, as OpenSSH skips it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from paramiko.pkey import UnknownKeyType

CERT_AUTHORITY = "@cert-authority"
REVOKED = "@revoked"


@dataclass(frozen=True)
class KnownKey:
    """One key line of known_hosts: its host patterns, the key, and whether it is revoked."""

    patterns: tuple[str, ...]
    key: paramiko.PKey
    revoked: bool = False


@dataclass(frozen=True)
class HostKeysFor:
    """What known_hosts says about one host name: the keys it may offer and the keys it must not."""

    accepted: tuple[paramiko.PKey, ...]
    revoked: tuple[paramiko.PKey, ...]

    def is_revoked(self, key: paramiko.PKey) -> bool:
        return any(_same_key(key, bad) for bad in self.revoked)


@dataclass(frozen=True)
class KnownHosts:
    """A parsed known_hosts file; `warnings` are one line each (what, where, what to do)."""

    path: str
    keys: tuple[KnownKey, ...]
    warnings: tuple[str, ...] = field(default=())

    def lookup(self, name: str) -> HostKeysFor:
        """Keys for `name` as paramiko looks it up: `addr` for port 22, else `[addr]:port`."""
        matching = [entry for entry in self.keys if host_matches(name, entry.patterns)]
        revoked = tuple(entry.key for entry in matching if entry.revoked)
        accepted = tuple(
            entry.key
            for entry in matching
            if not entry.revoked and not any(_same_key(entry.key, bad) for bad in revoked)
        )
        return HostKeysFor(accepted, revoked)


def parse_known_hosts(path: str) -> KnownHosts:
    """Read known_hosts at `path` (OSError when it cannot be read)."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    keys: list[KnownKey] = []
    authorities: list[int] = []
    unreadable: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        marker = fields[0] if fields[0].startswith("@") else None
        if marker is not None:
            fields = fields[1:]
        if marker == CERT_AUTHORITY:
            authorities.append(number)
            continue
        entry = _key_line(fields, revoked=marker == REVOKED) if marker in (None, REVOKED) else None
        if entry is None:
            unreadable.append(number)
            continue
        keys.append(entry)
    return KnownHosts(path, tuple(keys), tuple(_warnings(path, authorities, unreadable)))


def host_matches(name: str, patterns: tuple[str, ...]) -> bool:
    """OpenSSH's match for one known_hosts host field: some pattern matches and no negated one does."""
    lowered = name.lower()
    matched = False
    for pattern in patterns:
        if pattern.startswith("|1|"):
            if _hashed_matches(name, pattern):
                matched = True
            continue
        negated = pattern.startswith("!")
        if _wildcard(pattern[1:] if negated else pattern).fullmatch(lowered):
            if negated:
                return False
            matched = True
    return matched


def _key_line(fields: list[str], *, revoked: bool) -> KnownKey | None:
    if len(fields) < 3:
        return None
    hosts, key_type, blob = fields[:3]
    try:
        key = paramiko.PKey.from_type_string(key_type, base64.b64decode(blob, validate=True))
    except (binascii.Error, ValueError, TypeError, IndexError, paramiko.SSHException, UnknownKeyType):
        return None
    return KnownKey(tuple(p for p in hosts.split(",") if p), key, revoked)


def _wildcard(pattern: str) -> re.Pattern[str]:
    # Only * and ? are special (OpenSSH's match_pattern): "[addr]:port" must match literally.
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    return re.compile("".join(parts), re.DOTALL)


def _hashed_matches(name: str, pattern: str) -> bool:
    try:
        _, _, salt, digest = pattern.split("|", 3)
        expected = base64.b64decode(digest, validate=True)
        mac = hmac.new(base64.b64decode(salt, validate=True), name.encode(), hashlib.sha1).digest()
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(mac, expected)


def _same_key(one: paramiko.PKey, other: paramiko.PKey) -> bool:
    return bool(one.asbytes() == other.asbytes())


def _warnings(path: str, authorities: list[int], unreadable: list[int]) -> list[str]:
    lines = []
    if authorities:
        lines.append(
            f"known_hosts {path}: @cert-authority line(s) {_numbers(authorities)} skipped — mailcert does "
            "not check SSH host certificates; hosts known only through a CA are refused as unknown: add "
            "their plain host keys (ssh-keyscan, fingerprint verified) to use them"
        )
    if unreadable:
        lines.append(
            f"known_hosts {path}: line(s) {_numbers(unreadable)} unreadable (bad key or unknown key type), "
            "skipped — fix or remove them"
        )
    return lines


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:5])
    return shown + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")
