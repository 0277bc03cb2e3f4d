"""Exim changes: tls_certificate / tls_privatekey (or Debian's MAIN_TLS_* macros) where the parser found them."""

from __future__ import annotations

from functools import partial

from mailcert.fix import edit_exim
from mailcert.fix.plan_base import PlanState, SourceUse
from mailcert.model import Finding


def repoint(
    state: PlanState, use: SourceUse, fullchain: str, privkey: str, removes: list[Finding], why: str
) -> bool:
    source = use.source
    if use.sni or source.location is None or source.location.line is None:
        return False
    changed = False
    targets = [(source.location, "tls_certificate", fullchain)]
    key_location = source.key_location or source.location
    if key_location.line is not None and (source.key_file != privkey):
        if source.key_location is None:
            return False  # key inside the certificate file: the option to set is not in the config
        targets.append((key_location, "tls_privatekey", privkey))
    for location, name, value in targets:
        if location.line is None:
            continue
        apply = partial(edit_exim.set_option, line=location.line, name=name, value=value, path=location.file)
        changed = (
            state.edit(
                location.file,
                "exim",
                location.line,
                ("exim", location.file, location.line),
                f"{name} = {value} ({why})",
                apply,
                removes,
            )
            or changed
        )
    return changed
