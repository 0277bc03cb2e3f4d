"""What the host-side switch receives: the plan's files, commands, validations and reloads, every value base64.

A new file travels whole; an edit of an existing file travels as a line recipe with the digest of the text
as read (mailcert/fix/edit/recipe.py): the host builds it from the real file, whose secrets mailcert never saw.

Validations and reloads default per service (systemd when the host runs it and the unit is active, else the
daemon's own command); a plan may name its own. Commands are shell text built with shlex, never by hand.
"""

from __future__ import annotations

import base64

from mailcert.fix.edit.recipe import digest, recipe
from mailcert.fix.model import ChangeKind, Command, HostPlan
from mailcert.fix.worker import apply_script

# Fixed shell text (no values from the plan or the host reach it).
VALIDATE: dict[str, tuple[str, ...]] = {
    "postfix": ("postfix check", "postconf >/dev/null"),
    "dovecot": ("doveconf -n >/dev/null",),
    "exim": ("if command -v exim >/dev/null 2>&1; then exim -bV >/dev/null; else exim4 -bV >/dev/null; fi",),
}


def _systemd_or(unit: str, fallback: str) -> str:
    return (
        f"if [ -d /run/systemd/system ] && systemctl is-active --quiet {unit}; "
        f"then systemctl reload {unit}; else {fallback}; fi"
    )


RELOAD: dict[str, str] = {
    "postfix": _systemd_or("postfix", "postfix reload"),
    "dovecot": _systemd_or("dovecot", 'doveadm reload || kill -HUP "$(cat /run/dovecot/master.pid)"'),
    "exim": _systemd_or(
        "exim4",
        'kill -HUP "$(cat /run/exim4/exim.pid 2>/dev/null || cat /var/run/exim.pid)"',
    ),
}

_SERVICE_OF_FOLDER = (("/etc/postfix/", "postfix"), ("/etc/dovecot/", "dovecot"), ("/etc/exim", "exim"))


def service_of_path(path: str) -> str | None:
    """The mail service whose configuration folder holds `path` (for its validation), or None."""
    return next((service for folder, service in _SERVICE_OF_FOLDER if path.startswith(folder)), None)


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


# What a failure message calls each default (the shell text is long; the admin knows these words).
VALIDATE_LABEL = {
    "postfix check": "postfix check",
    "postconf >/dev/null": "postconf",
    "doveconf -n >/dev/null": "doveconf -n",
}


def validations(plan: HostPlan) -> tuple[tuple[str, str], ...]:
    """(shell text, label) of the plan's own validations, then each touched service's default ones."""
    own = [(command.shown(), command.shown()) for command in plan.validations]
    defaults = [
        (text, VALIDATE_LABEL.get(text, f"{service} -bV"))
        for service in touched_services(plan)
        for text in VALIDATE.get(service, ())
    ]
    return tuple(dict.fromkeys([*own, *defaults]))


def reloads(plan: HostPlan) -> tuple[tuple[str, str], ...]:
    """(shell text, label) of one reload per RELOAD change: its command, or the service's default."""
    texts: list[tuple[str, str]] = []
    for change in plan.changes:
        if change.kind is not ChangeKind.RELOAD:
            continue
        if change.command is not None:
            texts.append((change.command.shown(), change.command.shown()))
        elif change.service in RELOAD:
            texts.append((RELOAD[change.service], f"reload of {change.service}"))
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


def switch_payload(plan: HostPlan) -> str:
    """The stdin of `apply.sh switch`: the program itself, the files, commands, validations, reloads."""
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
    lines += [f"check {_b64(text)} {_b64(label)}" for text, label in validations(plan)]
    lines += [f"reload {_b64(text)} {_b64(label)}" for text, label in reloads(plan)]
    return "\n".join(lines) + "\n"


# Steps run before the switch, one SSH command each (installing certbot, certbot itself).
BEFORE_SWITCH = frozenset({ChangeKind.INSTALL, ChangeKind.ISSUE})


def switches_anything(plan: HostPlan) -> bool:
    return any(c.kind not in BEFORE_SWITCH for c in plan.changes)
