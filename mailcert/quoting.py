"""How values from a host reach text a person reads or a shell runs.

Everything a host serves or holds (config values, file names, certificate names, command output) is
untrusted. `shown` is the one escaping function for such values in text output: a newline cannot forge a
report line, ESC/CSI cannot drive the terminal, a bidi override cannot reorder what is read. `shell_command`
builds a command suggested to the admin (a `fix:` line) with every word quoted for sh, so pasting it runs
what it says and nothing a host value smuggles in.
"""

from __future__ import annotations

import re
import shlex

# C0 and DEL and C1 controls, newline, CR and tab included; bidi embeddings, overrides and isolates
# (U+202A–U+202E, U+2066–U+2069) and the implicit marks (LRM, RLM, ALM) that can reorder a line; the
# Unicode line and paragraph separators (U+2028, U+2029), which str.splitlines() and some viewers break at.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# The same but keeping newline and tab: for text that is several lines on purpose (diffs, scripts).
_UNSAFE_INLINE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def shown(value: object) -> str:
    """`value` as one line of safe text: newlines, control characters and bidi controls made visible."""
    return _UNSAFE.sub(_escape, str(value))


def shown_lines(value: object) -> str:
    """As `shown`, but newlines and tabs kept: only for text that spans lines on purpose (a diff)."""
    return _UNSAFE_INLINE.sub(_escape, str(value))


def shell_command(*words: object) -> str:
    """A command for an admin to paste: every word quoted for sh (`shlex.join`)."""
    return shlex.join(str(word) for word in words)
