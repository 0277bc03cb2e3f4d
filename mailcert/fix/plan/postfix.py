"""Postfix changes: point main.cf (or a master.cf `-o`) at a certificate, fix the mode of a port in
master.cf, and repair main.cf lines Postfix misreads when the intended value is clear."""

from __future__ import annotations

import re
from functools import partial

from mailcert.errors import MailcertError
from mailcert.fix import values
from mailcert.fix.edit import postfix as edit_postfix
from mailcert.fix.model import Change, ChangeKind, Command
from mailcert.fix.plan.base import PlanState, SourceUse
from mailcert.fix.plan.reload import reload_when_files_are_sound
from mailcert.model import Finding
from mailcert.services.postfix.syntax import logical_lines, split_nameval

MAIN_CF = "/etc/postfix/main.cf"
MASTER_CF = "/etc/postfix/master.cf"
# Findings a misread main.cf line causes on the certificate setting it swallows.
_CAUSED_BY_MISREAD = {"cert.missing", "key.missing", "cert.unparsable", "key.mismatch", "cert.leaf-not-first"}


def set_setting(
    state: PlanState,
    use: SourceUse,
    name: str,
    location_file: str,
    value: str,
    removes: list[Finding],
    what: str,
) -> bool:
    """`name = value` where the source's setting is made: main.cf, or the service's `-o` in master.cf."""
    values.postfix_value(value, f"{name} in {location_file}")
    if location_file.endswith("/master.cf"):
        entry = use.listener.location.line if use.listener.location else None
        if entry is None:
            raise MailcertError(f"{location_file}: cannot tell which master.cf entry sets {name}")
        apply = partial(
            edit_postfix.set_master_option, entry_line=entry, name=name, value=value, path=location_file
        )
        return state.edit(
            location_file,
            "postfix",
            entry,
            ("postfix-o", entry, name),
            f"-o {name}={value} ({what})",
            lambda t: apply(t),
            removes,
        )
    apply_main = partial(edit_postfix.set_main_cf, name=name, value=value, path=location_file)
    current = edit_postfix.main_cf_value(state.text(location_file), name)
    if current is not None and current.strip() == value and len(_defs(state, location_file, name)) == 1:
        return False
    line = use.source.location.line if use.source.location and use.source.setting == name else None
    if len(_defs(state, location_file, name)) > 1:  # the earlier definitions get commented out
        removes = removes + [
            f
            for f in state.problems()
            if f.check == "config.overridden"
            and f.file == location_file
            and f.message.startswith(f"{name} is set on line")
        ]
    return state.edit(
        location_file,
        "postfix",
        line,
        ("postfix-main", name),
        f"{name} = {value} ({what})",
        lambda t: apply_main(t),
        removes,
    )


def _defs(state: PlanState, path: str, name: str) -> list[int]:
    out = []
    for logical in logical_lines(state.text(path))[0]:
        pair = split_nameval(logical.text)
        if isinstance(pair, tuple) and pair[0] == name:
            out.append(logical.line)
    return out


def repoint(
    state: PlanState, use: SourceUse, fullchain: str, privkey: str, removes: list[Finding], why: str
) -> bool:
    source = use.source
    if use.sni:
        return _sni_entry(state, use, f"{privkey},{fullchain}", removes, why)
    if source.location is None:
        return False
    if source.setting == "smtpd_tls_chain_files":
        return set_setting(
            state, use, source.setting, source.location.file, f"{privkey}, {fullchain}", removes, why
        )
    changed = set_setting(state, use, source.setting, source.location.file, fullchain, removes, why)
    key_file = source.key_location.file if source.key_location else source.location.file
    key_setting = source.key_setting or source.setting.replace("cert_file", "key_file")
    if source.key_file != privkey or key_setting != source.key_setting:
        changed = set_setting(state, use, key_setting, key_file, privkey, removes, why) or changed
    return changed


def fix_config(state: PlanState, uses: list[SourceUse]) -> set[int]:
    """Misread main.cf lines and port modes. Returns ids of sources a repaired line already fixes."""
    repaired: set[int] = set()
    for finding in state.problems():
        if finding.service != "postfix" or finding in state.covered:
            continue
        if (
            finding.check == "config.syntax"
            and finding.file
            and finding.file.endswith("/main.cf")
            and finding.line
        ):
            repaired |= _misread_line(state, finding, uses)
        elif finding.check == "config.mode-mismatch" and finding.port is not None:
            _mode(state, finding)
    reload_when_files_are_sound(state, "postfix")
    return repaired


def _misread_line(state: PlanState, finding: Finding, uses: list[SourceUse]) -> set[int]:
    path, line = finding.file or MAIN_CF, finding.line or 0
    text = state.text(path)
    physical = state.line(path, line)
    logical = next((ll for ll in logical_lines(text)[0] if any(p.line == line for p in ll.pieces)), None)
    if logical is None:
        return set()
    glued = re.match(r"^[ \t]+[a-z][a-z0-9_]*\s*=", physical)
    if glued and logical.line != line:
        apply = partial(edit_postfix.dedent, line=line, path=path)
        description = f"remove the indentation of line {line} (it was glued to the parameter above)"
    elif " #" in physical or "\t#" in physical:
        pair = split_nameval(logical.text)
        if not isinstance(pair, tuple):
            return set()
        intended = re.split(r"\s#", pair[1], maxsplit=1)[0].strip()
        if (
            not intended
            or any(c.isspace() for c in intended)
            or (intended.startswith("/") and not state.files.exists(intended))
        ):
            return set()  # the value without the comment is not clearly what was meant
        apply = partial(edit_postfix.move_trailing_comment, line=line, path=path)
        description = f"move the '# comment' of {pair[0]} (line {line}) to a line of its own"
    else:
        return set()
    lines = {p.line for p in logical.pieces}
    caused = [
        u
        for u in uses
        if u.listener.service == "postfix"
        and any(
            loc is not None and loc.file == path and loc.line in lines
            for loc in (u.source.location, u.source.key_location)
        )
    ]
    removes = [finding] + [f for u in caused for f in u.findings if f.check in _CAUSED_BY_MISREAD]
    state.edit(path, "postfix", line, ("postfix-line", line), description, lambda t: apply(t), removes)
    return {id(u) for u in caused}


def _mode(state: PlanState, finding: Finding) -> None:
    listener = next(
        (
            ls
            for s in state.model.services
            if s.service == "postfix"
            for ls in s.listeners
            if ls.port == finding.port
        ),
        None,
    )
    if listener is None or listener.location is None or not listener.location.file.endswith("master.cf"):
        return
    entry = listener.location.line
    if entry is None:
        return
    path = listener.location.file
    if finding.port == 465:
        typo = _typo(state, path, entry)
        removes = [finding] + [
            f
            for f in state.problems()
            if f.check == "config.syntax" and f.file == path and typo and f.line == typo[0]
        ]
        apply = partial(
            edit_postfix.set_master_option,
            entry_line=entry,
            name="smtpd_tls_wrappermode",
            value="yes",
            replaces=typo[1] if typo else None,
            path=path,
        )
        what = f"correct -o {typo[1]} to" if typo else "add"
        state.edit(
            path,
            "postfix",
            entry,
            ("postfix-o", entry, "smtpd_tls_wrappermode"),
            f"{what} -o smtpd_tls_wrappermode=yes on port 465 (master.cf line {entry}): implicit TLS",
            lambda t: apply(t),
            removes,
        )
    elif finding.port in (25, 587):
        if finding.file == path:
            remove = partial(
                edit_postfix.remove_master_option, entry_line=entry, name="smtpd_tls_wrappermode", path=path
            )
            description = (
                f"remove -o smtpd_tls_wrappermode from port {finding.port} (master.cf line {entry}): STARTTLS"
            )
            state.edit(
                path,
                "postfix",
                entry,
                ("postfix-o", entry, "smtpd_tls_wrappermode"),
                description,
                lambda t: remove(t),
                [finding],
            )
        else:
            set_no = partial(
                edit_postfix.set_master_option,
                entry_line=entry,
                name="smtpd_tls_wrappermode",
                value="no",
                path=path,
            )
            description = (
                f"-o smtpd_tls_wrappermode=no on port {finding.port} (master.cf line {entry}): STARTTLS"
            )
            state.edit(
                path,
                "postfix",
                entry,
                ("postfix-o", entry, "smtpd_tls_wrappermode"),
                description,
                lambda t: set_no(t),
                [finding],
            )


def _typo(state: PlanState, path: str, entry: int) -> tuple[int, str] | None:
    from mailcert.services.postfix.params import suggest
    from mailcert.services.postfix.syntax import parse_master_cf

    for master in parse_master_cf(state.text(path)).entries:
        if master.line == entry:
            for override in master.overrides:
                if (
                    override.name != "smtpd_tls_wrappermode"
                    and suggest(override.name) == "smtpd_tls_wrappermode"
                ):
                    return override.line, override.name
    return None


def _sni_entry(state: PlanState, use: SourceUse, value: str, removes: list[Finding], why: str) -> bool:
    """Rewrite the SNI table line (key first, as postmap -F wants), then rebuild the table if it is indexed."""
    location = use.source.location
    if use.source.setting != "tls_server_sni_maps" or location is None or location.line is None:
        return False
    from mailcert.fix.plan.hooks import sni_tables

    path, line = location.file, location.line
    apply = partial(edit_postfix.set_table_value, line=line, value=value, path=path)
    changed = state.edit(
        path, "postfix", line, ("postfix-sni", path, line), f"line {line}: {value} ({why})", apply, removes
    )
    for table in sni_tables(state):
        if table.partition(":")[2] == path:
            postmap = state.roles.role("postfix").postmap_sni
            state.add(
                Change(
                    ChangeKind.COMMAND,
                    f"rebuild Postfix SNI table {table}",
                    command=Command((*postmap, table)),
                    service="postfix",
                )
            )
    return changed
