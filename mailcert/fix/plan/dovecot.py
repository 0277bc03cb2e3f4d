"""Dovecot changes: certificate settings (2.3 `ssl_cert = <file`, 2.4 `ssl_server_cert_file = file`) where
the parser found them, the missing `<`, `ssl` of a listener for its port's mode, and `ssl = no`."""

from __future__ import annotations

import re
from functools import partial

from mailcert.fix.edit import dovecot as edit_dovecot
from mailcert.fix.plan.base import PlanState, SourceUse
from mailcert.fix.plan.reload import reload_when_files_are_sound
from mailcert.model import Finding

IMPLICIT_PORTS = (993, 995)
STARTTLS_PORTS = (143, 110)
_KEY_OF = {
    "ssl_cert": "ssl_key",
    "ssl_alt_cert": "ssl_alt_key",
    "ssl_server_cert_file": "ssl_server_key_file",
}
_SETTING = re.compile(r"^\s*(?P<name>[a-z_]+)\s*=\s*(?P<value>\S.*?)\s*$")


def _value(setting: str, path: str) -> str:
    """2.3 settings take the file's content: `<path`; 2.4's *_file settings take the path itself."""
    return path if setting.endswith("_file") else f"<{path}"


def _set(
    state: PlanState, path: str, line: int, name: str, value: str, removes: list[Finding], why: str
) -> bool:
    current = state.line(path, line) if line else ""
    match = _SETTING.match(current)
    if match and match.group("name") == name and match.group("value") == value:
        return False
    apply = partial(edit_dovecot.set_setting, line=line, name=name, value=value, path=path)
    return state.edit(
        path, "dovecot", line, ("dovecot", path, line), f"{name} = {value} ({why})", apply, removes
    )


def repoint(
    state: PlanState, use: SourceUse, fullchain: str, privkey: str, removes: list[Finding], why: str
) -> bool:
    source = use.source
    if source.location is None or source.location.line is None:
        return False
    changed = _set(
        state,
        source.location.file,
        source.location.line,
        source.setting,
        _value(source.setting, fullchain),
        removes,
        why,
    )
    key_setting = source.key_setting or _KEY_OF.get(source.setting)
    if source.key_location is not None and source.key_location.line is not None and key_setting:
        key_value = _value(key_setting, privkey)
        changed = (
            _set(
                state,
                source.key_location.file,
                source.key_location.line,
                key_setting,
                key_value,
                removes,
                why,
            )
            or changed
        )
    elif key_setting and source.key_file != privkey:
        apply = partial(
            edit_dovecot.append_setting,
            name=key_setting,
            value=_value(key_setting, privkey),
            path=source.location.file,
        )
        changed = (
            state.edit(
                source.location.file,
                "dovecot",
                None,
                ("dovecot-append", key_setting),
                f"{key_setting} ({why})",
                apply,
                removes,
            )
            or changed
        )
    return changed


def fix_config(state: PlanState) -> None:
    for finding in state.problems():
        if finding.service != "dovecot" or finding in state.covered:
            continue
        if finding.check == "config.mode-mismatch" and finding.port is not None:
            _listener_ssl(state, finding)  # found by the probe: no file, the listener says where
        elif not finding.file or not finding.line:
            continue
        elif finding.check in ("config.dovecot-missing-lt", "config.syntax"):
            _lt_as_the_setting_takes_it(state, finding)
        elif finding.check == "config.tls-disabled":
            _ssl_no(state, finding)
    reload_when_files_are_sound(state, "dovecot")


def _lt_as_the_setting_takes_it(state: PlanState, finding: Finding) -> None:
    """The certificate or key path written the way its setting takes it (`_value`): 2.3's ssl_cert/ssl_key
    without their '<' (config.dovecot-missing-lt: the path read as PEM), or a 2.4 *_file setting with a '<'
    (config.syntax: 2.4 reads the file and takes its text as the path, and refuses the config). Of the
    config.syntax findings only that shape, on a *_file setting, is changed; the others need a person."""
    path, line = finding.file or "", finding.line or 0
    match = _SETTING.match(state.line(path, line))
    if match is None:
        return
    name, value = match.group("name"), match.group("value").split(" #", 1)[0].strip()
    if finding.check == "config.syntax" and not name.endswith("_file"):
        return
    file = value.removeprefix("<")
    if not file.startswith("/") or _value(name, file) == value:
        return
    why = (
        "remove '<': Dovecot 2.4 takes the path itself"
        if value.startswith("<")
        else ("add '<': read the file, not the path as PEM")
    )
    _set(state, path, line, name, _value(name, file), [finding], why)


def _listener_ssl(state: PlanState, finding: Finding) -> None:
    listener = next(
        (
            ls
            for s in state.model.services
            if s.service == "dovecot"
            for ls in s.listeners
            if ls.port == finding.port
        ),
        None,
    )
    if listener is None or listener.location is None or listener.location.line is None:
        return
    if finding.port in IMPLICIT_PORTS:
        value = "yes"
    elif finding.port in STARTTLS_PORTS:
        value = "no"
    else:
        return
    path, line = listener.location.file, listener.location.line
    if not re.match(r"^\s*inet_listener\s+\S+\s*\{", state.line(path, line)):
        return  # a built-in listener (no inet_listener block of its own): not guessed at
    apply = partial(edit_dovecot.set_block_setting, block_line=line, name="ssl", value=value, path=path)
    what = "implicit TLS" if value == "yes" else "STARTTLS"
    state.edit(
        path,
        "dovecot",
        line,
        ("dovecot-listener", path, line),
        f"ssl = {value} in {listener.name} (port {finding.port}: {what})",
        apply,
        [finding],
    )


def _ssl_no(state: PlanState, finding: Finding) -> None:
    path, line = finding.file or "", finding.line or 0
    match = _SETTING.match(state.line(path, line))
    if match is None or match.group("name") != "ssl" or match.group("value") != "no":
        return
    removes = [
        f
        for f in state.problems()
        if f.check == "config.tls-disabled" and f.service == "dovecot" and f.file == path and f.line == line
    ]
    _set(state, path, line, "ssl", "yes", removes, "turn TLS on")
