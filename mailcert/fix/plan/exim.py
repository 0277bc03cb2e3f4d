"""Exim changes: tls_certificate / tls_privatekey (or Debian's MAIN_TLS_* macros) where the parser found them."""

from __future__ import annotations

import re
from functools import partial

from mailcert.fix import values
from mailcert.fix.edit import exim as edit_exim
from mailcert.fix.model import Change, ChangeKind, Command
from mailcert.fix.plan.base import PlanState, SourceUse
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


def fix_config(state: PlanState) -> None:
    """config.mode-mismatch on Exim: 465 gets tls_on_connect, 25/587 lose it."""
    for finding in state.problems():
        if finding.service != "exim" or finding.check != "config.mode-mismatch" or finding in state.covered:
            continue
        if finding.port is None or not finding.file or not finding.line:
            continue
        _mode(state, finding, finding.file, finding.line)


def _mode(state: PlanState, finding: Finding, path: str, line: int) -> None:
    text = state.text(path)
    current = state.line(path, line)
    option = re.match(r"^\s*tls_on_connect_ports\s*=\s*(?P<value>.*?)\s*$", current)
    port = str(finding.port)
    if finding.port == 465:
        set_line = _tls_on_connect_line(text)
        if set_line is not None:
            ports = edit_exim.port_list(_value_at(text, set_line))
            if port in ports:
                return
            apply = partial(
                edit_exim.set_port_list,
                line=set_line,
                name="tls_on_connect_ports",
                ports=[*ports, port],
                path=path,
            )
            anchor = set_line
        elif re.match(r"^\s*daemon_smtp_ports\s*=", current):
            apply = partial(
                edit_exim.insert_option_after, line=line, name="tls_on_connect_ports", value=port, path=path
            )
            anchor = line
        else:
            return
        description = "tls_on_connect_ports gets 465 (implicit TLS on port 465)"
    elif finding.port in (25, 587) and option is not None:
        ports = [p for p in edit_exim.port_list(option.group("value")) if p != port]
        apply = partial(
            edit_exim.set_port_list, line=line, name="tls_on_connect_ports", ports=ports, path=path
        )
        anchor = line
        description = f"remove {port} from tls_on_connect_ports (STARTTLS on port {port})"
    else:
        return
    state.edit(path, "exim", anchor, ("exim-tls-on-connect", path), description, apply, [finding])


def _tls_on_connect_line(text: str) -> int | None:
    for number, line in enumerate(text.split("\n"), start=1):
        if re.match(r"^\s*tls_on_connect_ports\s*=", line):
            return number
    return None


def _value_at(text: str, line: int) -> str:
    return text.split("\n")[line - 1].partition("=")[2].strip()
