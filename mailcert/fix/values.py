"""Checks on every value the planner writes into a configuration file or a command.

A value comes from certificates (SAN names), the inventory or certbot's files, so it is untrusted: a
newline in a SAN or a path must never smuggle in a second parameter. Each check returns the value
unchanged or raises MailcertError saying which value, for what, and why it was refused.
"""

from __future__ import annotations

import re

from mailcert.errors import MailcertError

_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_PATH = re.compile(r"^/[A-Za-z0-9._+@%=:,/-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LINEAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_PLUGIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")
_URL = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d+)?(/[A-Za-z0-9._~/%:@!$&'()*+,;=?-]*)?$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def refuse(value: str, purpose: str, why: str) -> MailcertError:
    shown = value.encode("unicode_escape").decode("ascii")[:200]
    return MailcertError(
        f"refusing to write {shown!r} as {purpose}: {why}",
        todo="check the certificate names, inventory variables and paths this value came from",
    )


def hostname(value: str, purpose: str = "a hostname") -> str:
    """A DNS name (wildcard allowed as the whole first label), as certbot `-d` and configs take it."""
    name = value.rstrip(".")
    labels = name.split(".")
    if labels and labels[0] == "*":
        labels = labels[1:]
    if not name or len(name) > 253 or not labels or not all(_HOSTNAME_LABEL.match(label) for label in labels):
        raise refuse(value, purpose, "not a valid DNS name")
    return value


def path(value: str, purpose: str = "a file path") -> str:
    """An absolute path of plain characters: no whitespace, quotes, `#`, `$`, braces or control characters."""
    if _CONTROL.search(value):
        raise refuse(value, purpose, "it holds a newline or another control character")
    if not _PATH.match(value) or "/../" in value or value.endswith("/.."):
        raise refuse(
            value, purpose, "not an absolute path of plain characters (letters, digits, . _ - / + @)"
        )
    return value


def lineage_name(value: str) -> str:
    if not _LINEAGE_NAME.match(value) or ".." in value:
        raise refuse(
            value, "a certbot --cert-name", "certbot lineage names are letters, digits, '.', '_' and '-'"
        )
    return value


def dns_plugin(value: str) -> str:
    if not _PLUGIN.match(value):
        raise refuse(
            value, "a certbot DNS plugin name", "plugin names are lower-case letters, digits and '-'"
        )
    return value


def url(value: str, purpose: str = "the ACME server URL") -> str:
    if _CONTROL.search(value) or not _URL.match(value):
        raise refuse(value, purpose, "not an http(s) URL of plain characters")
    return value


def email(value: str) -> str:
    if _CONTROL.search(value) or not _EMAIL.match(value) or len(value) > 254:
        raise refuse(value, "the ACME account e-mail (mailcert_acme_email)", "not an e-mail address")
    return value


def postfix_value(value: str, purpose: str) -> str:
    """A main.cf/master.cf value: one line, no `#` (Postfix keeps it in the value), no braces."""
    if _CONTROL.search(value):
        raise refuse(value, purpose, "it holds a newline or another control character")
    if "#" in value or "{" in value or "}" in value:
        raise refuse(value, purpose, "Postfix would keep '#' or braces in the value")
    return value


def dovecot_value(value: str, purpose: str) -> str:
    """A Dovecot setting value: one line, no quotes or braces (they would open a string or a block)."""
    if _CONTROL.search(value):
        raise refuse(value, purpose, "it holds a newline or another control character")
    if any(c in value for c in '"{}#\\'):
        raise refuse(value, purpose, "Dovecot would read a quote, brace, backslash or '#' as syntax")
    return value


def exim_value(value: str, purpose: str) -> str:
    """An Exim option value: one line, no expansion (`$`), escapes or list separators."""
    if _CONTROL.search(value):
        raise refuse(value, purpose, "it holds a newline or another control character")
    if any(c in value for c in "$\\:#"):
        raise refuse(value, purpose, "Exim would expand '$', '\\' or read ':' and '#' as syntax")
    return value
