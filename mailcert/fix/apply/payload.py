"""What the host-side switch receives: the plan's files, commands, validations and reloads, every value base64.

A new file travels whole; an edit of an existing file travels as a line recipe with the digest of the text
as read (mailcert/fix/edit/recipe.py): the host builds it from the real file, whose secrets mailcert never saw.

Validations and reloads come from each service's roles/<name>/role.yml only (the packaged roles, or the run's
--roles / mailcert_roles_dir set): a plan's own validations, then the role's for every service whose files it
writes or that it reloads; a RELOAD without a command gets its role's reload, through systemd when the host
runs it and one of the role's units is active, else the daemon's own command. Commands are shell text built
with shlex, never by hand.
"""

from __future__ import annotations

import base64
import shlex

from mailcert.fix.edit.recipe import digest, recipe
from mailcert.fix.model import ChangeKind, Command, HostPlan
from mailcert.fix.roles import RoleCommands, RoleSet, roles_for
from mailcert.fix.worker import apply_script
from mailcert.services.registry import service_of_path


def _reload_text(role: RoleCommands) -> str:
    """A service's reload as shell text, chosen on the host: through systemd when the host runs it and one
    of the role's units is active (that unit's own reload when role.yml names one), else the daemon's own
    command (all from its role.yml)."""
    systemd = shlex.join(role.reload_systemd) if role.reload_systemd else None
    command = shlex.join(role.reload_command) if role.reload_command else None
    if systemd is None or command is None or not role.systemd_units:
        chosen = command or systemd
        if chosen is None:
            raise ValueError(f"no way to reload service {role.name!r}: its role.yml has no reload")
        return chosen
    # a unit with its own reload in role.yml first (RHEL's exim.service), then the role's systemd reload
    branches = [
        f"[ -d /run/systemd/system ] && systemctl is-active --quiet {shlex.quote(unit)}; then {shlex.join(argv)}"
        for unit, argv in role.reload_unit.items()
        if unit in role.systemd_units
    ]
    units = " ".join(shlex.quote(unit) for unit in role.systemd_units)
    branches.append(f"[ -d /run/systemd/system ] && systemctl is-active --quiet {units}; then {systemd}")
    return f"if {'; elif '.join(branches)}; else {command}; fi"


def touched_services(plan: HostPlan) -> tuple[str, ...]:
    """Services whose files the plan writes or that it reloads, in plan order."""
    found: list[str] = []
    for change in plan.changes:
        if change.kind is ChangeKind.RELOAD and change.service:
            found.append(change.service)
        elif change.file is not None:
            service = service_of_path(change.file.link or change.file.path)
            if service:
                found.append(service)
    return tuple(dict.fromkeys(found))


def validations(plan: HostPlan, roles: RoleSet | None = None) -> tuple[tuple[str, str], ...]:
    """(shell text, label) of the plan's own validations, then each touched service's from its role.yml."""
    role_set = roles or roles_for(None)
    own = [command.shown() for command in plan.validations]
    defaults = [
        Command(argv).shown()
        for service in touched_services(plan)
        if service in role_set.roles
        for argv in role_set.role(service).validate
    ]
    return tuple((text, text) for text in dict.fromkeys([*own, *defaults]))


def reloads(plan: HostPlan, roles: RoleSet | None = None) -> tuple[tuple[str, str], ...]:
    """(shell text, label) of one reload per RELOAD change: its command, or its service's from role.yml."""
    role_set = roles or roles_for(None)
    texts: list[tuple[str, str]] = []
    for change in plan.changes:
        if change.kind is not ChangeKind.RELOAD:
            continue
        if change.command is not None:
            texts.append((change.command.shown(), change.command.shown()))
        elif change.service is not None and change.service in role_set.roles:
            texts.append((_reload_text(role_set.role(change.service)), f"reload of {change.service}"))
        else:
            raise ValueError(f"no way to reload service {change.service!r}")
    return tuple(dict.fromkeys(texts))


def _b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode("ascii") or "-"


def _mode(value: int | None) -> str:
    return "-" if value is None else format(value, "o")


def _word(value: str | None) -> str:
    if value is None:
        return "-"
    if not value or any(c.isspace() for c in value) or value.startswith("-"):
        raise ValueError(f"bad owner/group name {value!r}")
    return value


# Commands that change a file's owner or mode as root: the host checks each path they name as it checks a
# file it writes (no symbolic link in it, every folder root's) before it runs them.
OWNER_MODE_COMMANDS = frozenset({"chmod", "chown", "chgrp"})


def guarded_paths(command: Command) -> tuple[str, ...]:
    """The absolute paths a chmod/chown/chgrp command changes (none for any other command)."""
    if not command.argv or command.argv[0] not in OWNER_MODE_COMMANDS:
        return ()
    for path in command.argv[1:]:
        if "\n" in path or "\x00" in path:
            raise ValueError(f"bad path in the plan: {path!r}")
    return tuple(a for a in command.argv[1:] if a.startswith("/"))


def switch_payload(plan: HostPlan, roles: RoleSet | None = None) -> str:
    """The stdin of `apply.sh switch`: the program itself, the files, commands, validations, reloads
    (validate and reload commands from `roles`, default the packaged ones)."""
    lines = [f"script {_b64(apply_script())}"]
    for change in plan.changes:
        if change.file is not None and change.kind in (ChangeKind.EDIT, ChangeKind.CREATE):
            f = change.file
            if "\n" in f.path or "\x00" in f.path or not f.path.startswith("/"):
                raise ValueError(f"bad file path in the plan: {f.path!r}")
            if f.before is None:
                lines.append(
                    f"file {_b64(f.path)} {_b64(f.after)} {_mode(f.mode)} {_word(f.owner)} {_word(f.group)}"
                )
            else:  # built on the host from the real file: the redacted text never travels back
                if f.link is not None:  # the host refuses the edit when the link leads elsewhere now
                    if "\n" in f.link or "\x00" in f.link or not f.link.startswith("/"):
                        raise ValueError(f"bad link path in the plan: {f.link!r}")
                    lines.append(f"link {_b64(f.link)} {_b64(f.path)}")
                lines.append(
                    f"edit {_b64(f.path)} {_b64(recipe(f.path, f.before, f.after))} {digest(f.before)}"
                )
    for change in plan.changes:
        if change.kind is not ChangeKind.COMMAND or change.command is None:
            continue
        lines += [f"guard {_b64(path)}" for path in guarded_paths(change.command)]
        if change.undo is None:
            lines.append(f"run {_b64(change.command.shown())}")
        else:
            lines.append(f"api {_b64(change.command.shown())} {_b64(change.undo.shown())}")
    lines += [f"check {_b64(text)} {_b64(label)}" for text, label in validations(plan, roles)]
    lines += [f"reload {_b64(text)} {_b64(label)}" for text, label in reloads(plan, roles)]
    return "\n".join(lines) + "\n"


# Steps run before the switch, one SSH command each (installing certbot, certbot itself).
BEFORE_SWITCH = frozenset({ChangeKind.INSTALL, ChangeKind.ISSUE})


def switches_anything(plan: HostPlan) -> bool:
    return any(c.kind not in BEFORE_SWITCH for c in plan.changes)
