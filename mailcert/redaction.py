"""The host's redaction rule (gather.sh's `redact`, between the mailcert-redact markers), mirrored in Python.

gather.sh blanks secrets on the host before any config text is sent; this mirror lets a message decide
whether a line it would quote is one that rule covers (a line read locally by `lint ROOT`, or a line a
syntax finding names). tests/unit/test_redaction_rules.py runs the same corpus through both, so they
cannot drift: `redact_line(line)` equals what the sh rule prints for that line, and `redact_text(text, path)`
what it prints for a file at `path` (where a hidden value continued on the next lines hides those too, and a
SASL credential map keeps only its lookup keys).
"""

from __future__ import annotations

import re

PLACEHOLDER = "(hidden-by-mailcert)"

_KEEP = re.compile(r"^[ \t\n\r\f\v]*hide[ \t\n\r\f\v]+tls_")
_SPACE = r"[ \t\n\r\f\v]"
_BLANKS = " \t\n\r\f\v"
_KEY_WORDS = (
    "pass",
    "secret",
    "token",
    "pw",
    "hmac",
    "credential",
    "api[_-]?key",
    "dns[_-][A-Za-z0-9_.-]*key",
)


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


# Text without which no rule above can match (the same case-insensitive words, compiled the same way): most
# config lines have none of it, and one search instead of every rule made reading a large tree much faster.
_MAY_HOLD_SECRET = re.compile(
    rf"(?i:{'|'.join(_KEY_WORDS)})|connect|hide|_servers|server_condition|client_send|://|\$"
)


def _redacted(line: str) -> tuple[str, bool]:
    """The line through the line rules, and whether any rule matched (sed's `t`: a match that leaves the text
    as it was still counts)."""
    if _KEEP.match(line) or not _MAY_HOLD_SECRET.search(line):
        return line, False
    matched = 0
    for rule in _WHOLE_VALUE:
        line, n = rule.subn(lambda m: f"{m.group(1)} {PLACEHOLDER}", line, count=1)
        matched += n
    line, n = _URL_PASSWORD.subn(lambda m: f"{m.group(1)}{PLACEHOLDER}@", line)
    matched += n
    for crypt in _CRYPT_HASHES:
        line, n = crypt.subn(PLACEHOLDER, line)
        matched += n
    return line, matched > 0


def redact_line(line: str) -> str:
    """The line as gather.sh sends it (one line, without its newline), read on its own: the rules that depend
    on the lines before it or on the file's name are `redact_text`'s."""
    return _redacted(line)[0]


_BLANK = re.compile(rf"{_SPACE}*$")
_INDENT = re.compile(rf"{_SPACE}*")
_GO_ON = " \\"  # what a hidden line that went on ends with
_GOES_ON = re.compile(rf"\\{_SPACE}*$")  # a line ending in `\` (Exim, Dovecot) continues on the next one
_CREDENTIAL_KEY = re.compile(rf"^({_SPACE}*(#{_SPACE}*)?(\[[^]]*\](:[0-9]+)?)?[^:]*:).*$", re.DOTALL)
_CREDENTIAL_REST = re.compile(rf"^({_SPACE}*(#{_SPACE}*)?).*$", re.DOTALL)
_CREDENTIAL_NAME = re.compile(r"(?i:.*sasl[_-]passw.*|passwd\.client.*)", re.DOTALL | re.ASCII)


def file_kind(path: str) -> str:
    """How gather.sh's `redact` treats continued values in the file at `path`: "postfix" (a line starting
    with white space continues the one above), "credentials" (a SASL password map: only lookup keys are
    kept) or "backslash" (a line ending in `\\` continues; also command output, whose path is "")."""
    name = path.rsplit("/", 1)[-1]
    if name == "master.cf":
        return "backslash"
    if name.endswith(".cf"):
        return "postfix"
    if _CREDENTIAL_NAME.fullmatch(name):
        return "credentials"
    return "backslash"


def _credential_line(line: str) -> str:
    if _BLANK.fullmatch(line):
        return line
    found = _CREDENTIAL_KEY.match(line)
    if found:
        return f"{found.group(1)} {PLACEHOLDER}"
    rest = _CREDENTIAL_REST.match(line)
    assert rest is not None  # every line matches
    return f"{rest.group(1)}{PLACEHOLDER}"


def _hidden_continuation(line: str, *, goes_on: bool) -> str:
    indent = _INDENT.match(line)
    assert indent is not None
    return indent.group(0) + PLACEHOLDER + (_GO_ON if goes_on else "")


def _postfix_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    hiding = False  # a hidden value goes on in the indented lines that follow
    for line in lines:
        if hiding and _BLANK.fullmatch(line):
            out.append(line)
        elif hiding and line[:1] in _BLANKS:
            out.append(_hidden_continuation(line, goes_on=False))
        elif hiding and line.startswith("#"):
            out.append(_redacted(line)[0])
        else:
            sent, matched = _redacted(line)
            out.append(sent)
            hiding = matched and not (line[:1] in _BLANKS or line.startswith("#"))
    return out


def _backslash_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    hiding = False  # the line above was hidden and ended in `\`
    for line in lines:
        if hiding and _BLANK.fullmatch(line):
            out.append(line)
            hiding = False
        elif hiding and line.lstrip(_BLANKS).startswith("#"):
            out.append(_redacted(line)[0])
        elif hiding:
            hiding = _GOES_ON.search(line) is not None
            out.append(_hidden_continuation(line, goes_on=hiding))
        else:
            sent, matched = _redacted(line)
            hiding = matched and _GOES_ON.search(line) is not None
            if hiding and not _GOES_ON.search(sent):
                sent += _GO_ON
            out.append(sent)
    return out


def redact_text(text: str, path: str = "") -> str:
    """A whole file as gather.sh sends it for `path` (every line through the rule, the lines kept; `lint ROOT`
    reads a copied tree through this, so it sees what `audit` sees and no finding can repeat a secret)."""
    lines = text.split("\n")
    kind = file_kind(path)
    if kind == "credentials":
        return "\n".join(_credential_line(_redacted(line)[0]) for line in lines)
    if kind == "postfix":
        return "\n".join(_postfix_lines(lines))
    return "\n".join(_backslash_lines(lines))


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
