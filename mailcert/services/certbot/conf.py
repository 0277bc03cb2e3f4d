"""certbot's own config files: renewal/NAME.conf (a ConfigObj subset) and cli.ini (ConfigArgParse).

Parsed here without ConfigObj so a broken file becomes a reason string, never an exception: certbot
itself skips a renewal conf that ConfigObj rejects ("renewal configuration file ... is broken"), so
the lineage it describes is then never renewed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SECTION = re.compile(r"^(\[+)\s*(?P<name>[^\[\]]*?)\s*(\]+)\s*(?:#.*)?$")
_KEY_VALUE = re.compile(r"""^(?P<key>"[^"]*"|'[^']*'|[^=#"'\[][^=]*?)\s*=\s*(?P<value>.*)$""")
_CLI_LINE = re.compile(r"""^(?P<key>[^:=;#\s]+)\s*(?:[:=\s]\s*(?P<value>.*?))?\s*$""")


class ConfSyntaxError(ValueError):
    """A line ConfigObj would refuse; the message names the line."""


@dataclass(frozen=True)
class RenewalConf:
    """The parts of renewal/NAME.conf certbot uses: top-level keys, [renewalparams], [[webroot_map]]."""

    top: dict[str, str] = field(default_factory=dict)
    renewalparams: dict[str, str] = field(default_factory=dict)
    webroot_map: dict[str, str] = field(default_factory=dict)

    @property
    def renew_before_expiry(self) -> str | None:
        """The renewal window; certbot's "# renew_before_expiry = 30 days" header is only a comment."""
        return self.top.get("renew_before_expiry")


def parse_renewal_conf(text: str) -> RenewalConf:
    """Parse a renewal conf as ConfigObj would; raise ConfSyntaxError("line N: ...") where it would fail."""
    top: dict[str, str] = {}
    renewalparams: dict[str, str] = {}
    webroot_map: dict[str, str] = {}
    current = top
    seen_sections: set[tuple[str, ...]] = set()
    path: list[str] = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        raw = lines[number]
        number += 1
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "\x00" in line:
            raise ConfSyntaxError(f"line {number}: binary data")
        if line.startswith("["):
            section = _SECTION.match(line)
            if section is None or len(section.group(1)) != len(section.group(3)) or not section.group("name"):
                raise ConfSyntaxError(f"line {number}: invalid section header {_show(line)}")
            depth = len(section.group(1))
            if depth > len(path) + 1:
                raise ConfSyntaxError(f"line {number}: section {_show(line)} is nested too deeply")
            path = [*path[: depth - 1], _unquote_key(section.group("name"))]
            if tuple(path) in seen_sections:
                raise ConfSyntaxError(f"line {number}: duplicate section {_show(line)}")
            seen_sections.add(tuple(path))
            if path == ["renewalparams"]:
                current = renewalparams
            elif path == ["renewalparams", "webroot_map"]:
                current = webroot_map
            else:
                current = {}  # a section certbot ignores; still parsed, as ConfigObj would
            continue
        match = _KEY_VALUE.match(line)
        if match is None:
            raise ConfSyntaxError(f"line {number}: not 'key = value' {_show(line)}")
        key = _unquote_key(match.group("key").strip())
        if key in current:
            raise ConfSyntaxError(f"line {number}: duplicate key {key!r}")
        value, number = _value(match.group("value"), lines, number)
        current[key] = value
    return RenewalConf(top, renewalparams, webroot_map)


def _value(raw: str, lines: list[str], number: int) -> tuple[str, int]:
    """A ConfigObj value: quoted (inline comment after it allowed), triple-quoted, or bare up to '#'."""
    raw = raw.strip()
    for triple in ('"""', "'''"):
        if raw.startswith(triple):
            rest = raw[3:]
            if triple in rest:
                return rest[: rest.index(triple)], number
            parts = [rest]
            while number < len(lines):
                line = lines[number]
                number += 1
                if triple in line:
                    parts.append(line[: line.index(triple)])
                    return "\n".join(parts), number
                parts.append(line)
            raise ConfSyntaxError(f"line {number}: unterminated {triple} value")
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        if end < 0:
            raise ConfSyntaxError(f"line {number}: unterminated quoted value")
        after = raw[end + 1 :].strip()
        if after and not after.startswith("#") and not after.startswith(","):
            raise ConfSyntaxError(f"line {number}: text after a quoted value")
        return raw[1:end], number
    if "#" in raw:
        raw = raw[: raw.index("#")]
    return raw.strip(), number


def _unquote_key(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        return key[1:-1]
    return key


def parse_cli_ini(text: str) -> dict[str, str]:
    """cli.ini keys and values (ConfigArgParse: `key = value`, `key: value`, `key value`, or a bare flag)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;[":
            continue
        match = _CLI_LINE.match(line)
        if match is None:
            continue
        value = (match.group("value") or "true").strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[match.group("key")] = value
    return values


def as_bool(value: str | None) -> bool | None:
    """ConfigObj's as_bool(): True/False for its accepted spellings, None for anything else or absent."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    return None


def _show(line: str) -> str:
    return repr(line if len(line) <= 60 else line[:57] + "...")
