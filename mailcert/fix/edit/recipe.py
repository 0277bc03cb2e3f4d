"""How an EDIT travels to the host: a line recipe against the real file, never the redacted text itself.

The gather program blanks secret-looking lines to the placeholder before any text leaves the host, and the
planners edit that redacted copy. Sending the whole edited copy back would write the placeholder over the
secret (relay auth silently broken). So an edit goes as a recipe computed with difflib between the
redacted `before` and the `after`: "keep real line J" or "new line TEXT", plus whether the file ends with a
newline, and the sha256 of the redacted `before`. The host runs the same redaction over the real file,
refuses the edit when the digest differs (the file changed since it was read) and builds the new file from
its real lines and the new ones: secret lines survive byte for byte.
"""

from __future__ import annotations

import difflib
import hashlib

from mailcert.errors import MailcertError

PLACEHOLDER = "(hidden-by-mailcert)"


class HiddenLineError(MailcertError):
    """An edit would change, delete or copy a line whose value the gather hid: it cannot be applied."""


def lines_of(text: str) -> tuple[list[str], bool]:
    """The file's lines as the host's awk reads them (split on LF, a CR stays in its line) and whether the
    last one ends with a newline. "" has no lines."""
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
        return parts, True
    return parts, False


def digest(before: str) -> str:
    """The sha256 of the redacted text as gathered, which the host recomputes from the real file."""
    return hashlib.sha256(before.encode("utf-8")).hexdigest()


def recipe(path: str, before: str, after: str) -> str:
    """The recipe text: line 1 "f 1" or "f 0" (final newline), then per line of the new file "k J" (keep
    real line J, 1-based) or "n TEXT". Raises HiddenLineError for an edit that touches a hidden line."""
    old, _ = lines_of(before)
    new, final = lines_of(after)
    out = [f"f {int(final)}"]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out += [f"k {i1 + k + 1}" for k in range(i2 - i1)]
            continue
        for number in range(i1, i2):
            if PLACEHOLDER in old[number]:
                raise HiddenLineError(
                    f"the edit of {path} would change or delete line {number + 1}, whose value mailcert "
                    "hid when it read the file",
                    todo="make that change by hand, or move the setting to a line of its own",
                )
        for number in range(j1, j2):
            if PLACEHOLDER in new[number]:
                raise HiddenLineError(
                    f"the edit of {path} would write a hidden value at line {number + 1} of the new file",
                    todo="make that change by hand",
                )
            if "\x00" in new[number]:
                raise HiddenLineError(f"the edit of {path} holds a NUL byte at line {number + 1}")
        out += [f"n {line}" for line in new[j1:j2]]
    return "\n".join(out) + "\n"
