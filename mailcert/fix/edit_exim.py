"""Pure editor of Exim configuration text: the option (or Debian MAIN_TLS_* macro) on one line rewritten."""

from __future__ import annotations

import re

from mailcert.errors import MailcertError
from mailcert.fix import values
from mailcert.fix.edit_text import Lines

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
