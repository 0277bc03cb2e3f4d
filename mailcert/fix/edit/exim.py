"""Pure editor of Exim configuration text: the option (or Debian MAIN_TLS_* macro) on one line rewritten."""

from __future__ import annotations

import re

from mailcert.errors import MailcertError
from mailcert.fix import values
from mailcert.fix.edit.text import Lines

# Debian's exim4-config sets tls_certificate = MAIN_TLS_CERTIFICATE; the macro is what admins edit.
MACROS = {"tls_certificate": "MAIN_TLS_CERTIFICATE", "tls_privatekey": "MAIN_TLS_PRIVATEKEY"}


def set_option(text: str, line: int, name: str, value: str, *, path: str = "exim.conf") -> str:
    """Rewrite `name = ...` (or its Debian macro `MAIN_TLS_... = ...`) on `line` with `value`."""
    values.exim_value(value, f"{name} in {path}")
    lines = Lines(text)
    current = lines.get(line, path)
    for key in (name, MACROS.get(name, name)):
        match = re.match(r"^(?P<indent>\s*)(?P<key>" + re.escape(key) + r")\s*=", current)
        if match is not None:
            lines.set(line, f"{match.group('indent')}{match.group('key')} = {value}")
            return lines.text()
    raise MailcertError(
        f"{path} line {line} sets neither {name} nor {MACROS.get(name, name)} (found {current.strip()[:80]!r})",
        todo="set it by hand, or run the audit again if the file changed",
    )


def _option_at(lines: Lines, line: int, name: str, path: str) -> re.Match[str] | None:
    return re.match(
        r"^(?P<indent>\s*)" + re.escape(name) + r"\s*=\s*(?P<value>.*?)\s*$", lines.get(line, path)
    )


def port_list(value: str) -> list[str]:
    return [p.strip() for p in value.split(":") if p.strip()]


def set_port_list(text: str, line: int, name: str, ports: list[str], *, path: str = "exim.conf") -> str:
    """Rewrite the port list option on `line` (`465 : 587`); an empty list comments the line out."""
    lines = Lines(text)
    match = _option_at(lines, line, name, path)
    if match is None:
        raise MailcertError(f"{path} line {line} does not set {name}", todo="run the audit again")
    if not all(p.isdigit() for p in ports):
        raise MailcertError(f"{path}: refusing to write ports {ports!r} into {name}")
    if ports:
        lines.set(line, f"{match.group('indent')}{name} = {' : '.join(ports)}")
    else:
        lines.set(line, "# " + lines.get(line, path) + "  # no port left; disabled by mailcert")
    return lines.text()


def insert_option_after(text: str, line: int, name: str, value: str, *, path: str = "exim.conf") -> str:
    """A new `name = value` line right after `line` (e.g. tls_on_connect_ports after daemon_smtp_ports)."""
    values.exim_value(value.replace(":", ""), f"{name} in {path}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise MailcertError(f"{path}: {name!r} is not an Exim option name")
    lines = Lines(text)
    lines.get(line, path)
    lines.insert_after(line, [f"{name} = {value}"])
    return lines.text()
