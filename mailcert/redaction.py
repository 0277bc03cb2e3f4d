"""The host's redaction rule (gather.sh's `redact`, between the mailcert-redact markers), mirrored in Python.

gather.sh blanks secrets on the host before any config text is sent; this mirror lets a message decide
whether a line it would quote is one that rule covers (a line read locally by `lint ROOT`, or a line a
syntax finding names). tests/unit/test_redaction_rules.py runs the same corpus through both, so they
cannot drift: `redact_line(line)` equals what the sh rule prints for that line.
"""

from __future__ import annotations

import re

PLACEHOLDER = "(hidden-by-mailcert)"

_KEEP = re.compile(r"^[ \t\n\r\f\v]*hide[ \t\n\r\f\v]+tls_")
_SPACE = r"[ \t\n\r\f\v]"
_KEY_WORDS = ("pass", "secret", "token", "pw", "hmac", "credential", "api[_-]?key")


def _key_rule(word: str) -> re.Pattern[str]:
    return re.compile(
        rf"^({_SPACE}*(export{_SPACE}+)?[A-Za-z0-9_.-]*(?i:{word})[A-Za-z0-9_.-]*{_SPACE}*[=:]).*$", re.DOTALL
    )


_WHOLE_VALUE = (
    *(_key_rule(word) for word in _KEY_WORDS),
    *(
        re.compile(
            rf"^({_SPACE}*(export{_SPACE}+)?[A-Za-z0-9_.-]*(?i:{word})[A-Za-z0-9_.-]*){_SPACE}+[^{{ \t\n\r\f\v=:][^{{]*$",
            re.DOTALL,
        )
        for word in _KEY_WORDS
    ),
    re.compile(rf"^({_SPACE}*connect{_SPACE}*=).*$", re.DOTALL),
    re.compile(rf"^({_SPACE}*hide{_SPACE}[^=]*=).*$", re.DOTALL),
    re.compile(rf"^({_SPACE}*[A-Za-z0-9_]*_servers{_SPACE}*=).*$", re.DOTALL),
    re.compile(rf"^({_SPACE}*server_condition{_SPACE}*=).*$", re.DOTALL),
    re.compile(rf"^({_SPACE}*client_send{_SPACE}*=).*$", re.DOTALL),
    *(re.compile(rf"((?i:{word})[A-Za-z0-9_.-]*{_SPACE}*=).*$", re.DOTALL) for word in _KEY_WORDS),
)
_URL_PASSWORD = re.compile(r"(://[^:/@ \t\n\r\f\v]*:)[^@ \t\n\r\f\v]*@")
_CRYPT_HASHES = (
    re.compile(r"\$[0-9][a-z]?\$[./A-Za-z0-9]{2,}[^ \t\n\r\f\v:]*"),
    re.compile(r"\$g?y\$[^ \t\n\r\f\v:]*"),
)


def redact_line(line: str) -> str:
    """The line as gather.sh sends it (one line, without its newline)."""
    if _KEEP.match(line):
        return line
    for rule in _WHOLE_VALUE:
        line = rule.sub(lambda m: f"{m.group(1)} {PLACEHOLDER}", line, count=1)
    line = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{PLACEHOLDER}@", line)
    for crypt in _CRYPT_HASHES:
        line = crypt.sub(PLACEHOLDER, line)
    return line


def redact_text(text: str) -> str:
    """A whole file as gather.sh sends it: every line through the rule, the lines kept (`lint ROOT` reads a
    copied tree through this, so it sees what `audit` sees and no finding can repeat a secret)."""
    return "\n".join(redact_line(line) for line in text.split("\n"))


def holds_secret(line: str) -> bool:
    """True when the host's redaction rule hides part of this line (or the line was already redacted)."""
    return PLACEHOLDER in line or redact_line(line) != line


WITHHELD = "this line (not shown: it matches a secret rule)"


def may_quote(text: str) -> bool:
    """True when a message may repeat `text`: no secret rule covers it and it is no private key line."""
    return not holds_secret(text) and "PRIVATE KEY" not in text


def quoted_line(text: str, *, limit: int = 200) -> str:
    """A config line for a message, in backticks, or WITHHELD when it may hold a secret (never its bytes)."""
    return f"`{text[:limit]}`" if may_quote(text) else WITHHELD


def repr_or_withheld(text: str, *, limit: int = 120) -> str:
    """`text` as Python's repr (how Postfix findings quote a line), or WITHHELD."""
    return repr(text[:limit]) if may_quote(text) else WITHHELD


def repr_of_value(name: str, value: str) -> str:
    """A setting's value as Python's repr, or WITHHELD_VALUE when `name = value` matches a secret rule (the
    key alone can make a value secret: `password = x`)."""
    return repr(value) if may_quote(f"{name} = {value}") and may_quote(value) else WITHHELD_VALUE


WITHHELD_VALUE = "a value not shown (it matches a secret rule)"
