"""Exim changes: tls_certificate / tls_privatekey (or Debian's MAIN_TLS_* macros) where the parser found them."""

from __future__ import annotations

from functools import partial

from mailcert.fix import edit_exim, values
from mailcert.fix.model import Change, ChangeKind, Command
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
    if len(targets) > 1:
        key_access(
            state,
            values.path(fullchain.rsplit("/", 1)[0], "a certbot live/ folder"),
            values.path(privkey, "a key file"),
        )
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


# Exim's daemon drops root and reads the key per connection as its own user; certbot keeps a key's group
# and mode across renewals, so giving the group read access once lasts.
EXIM_GROUPS = ("Debian-exim", "exim", "mail")


def exim_group(state: PlanState) -> str | None:
    text = state.files.read_config("/etc/group").text or ""
    present = {line.split(":", 1)[0] for line in text.splitlines() if ":" in line}
    return next((group for group in EXIM_GROUPS if group in present), None)


def key_access(state: PlanState, live_dir: str, privkey: str) -> None:
    """Let Exim's group read a certbot key: the key 0640, live/ and archive/ 0750, group Exim's."""
    group = exim_group(state)
    config_dir = state.certbot.config_dir
    if group is None:
        state.cannot(
            f"Exim must be able to read {privkey} as its own user: no Debian-exim/exim/mail group found in "
            "/etc/group, so give its group read access by hand (chgrp GROUP, chmod 640)"
        )
        return
    folders = (f"{config_dir}/live", f"{config_dir}/archive")
    why = f"let Exim (group {group}) read the key of {live_dir}"
    for argv in (
        ("chgrp", group, *folders),
        ("chmod", "0750", *folders),
        ("chgrp", group, privkey),
        ("chmod", "0640", privkey),
    ):
        state.add(
            Change(
                ChangeKind.COMMAND, f"{why}: {' '.join(argv)}", command=Command(tuple(argv)), service="exim"
            )
        )
