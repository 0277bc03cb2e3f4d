"""What a certbot hook does for the mail services: which daemons it reloads, whether it rebuilds SNI maps.

A hook is shell text (a `--deploy-hook` command saved as `renew_hook`, or a script in
renewal-hooks/deploy/). It is read, never run: each simple command is split the way sh would split it
and matched against the commands that make Postfix, Dovecot or Exim load a new certificate.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import PurePosixPath

POSTMAP_F = "postmap -F"  # marker in a reload set: the hook rebuilds Postfix SNI tables with embedded files

_SEPARATORS = {";", "&&", "||", "|", "&", ";;", "(", ")", "{", "}", "`", "$("}
_SYSTEMCTL_VERBS = {
    "reload",
    "restart",
    "reload-or-restart",
    "try-restart",
    "try-reload-or-restart",
    "force-reload",
}
_INIT_VERBS = {"reload", "restart", "force-reload", "try-restart"}
_SHELL_KEYWORDS = {
    "then",
    "do",
    "else",
    "elif",
    "if",
    "while",
    "until",
    "!",
    "exec",
    "command",
    "nice",
    "nohup",
}
_SUDO_OPTIONS_WITH_VALUE = {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_UNIT = re.compile(r"^[A-Za-z0-9@._:\\-]+$")


def service_name(unit: str) -> str:
    """The mail service a systemd unit or init script stands for: postfix@-.service -> postfix, exim4 -> exim."""
    name = PurePosixPath(unit).name
    name = name.removesuffix(".service")
    name = name.split("@", 1)[0]
    return "exim" if name in ("exim4", "exim") else name


def reload_actions(script: str) -> frozenset[str]:
    """Services the shell text reloads or restarts (by service name) plus POSTMAP_F when it runs `postmap -F`."""
    actions: set[str] = set()
    for words in simple_commands(script):
        actions |= _command_actions(words)
    return frozenset(actions)


def called_programs(script: str) -> list[str]:
    """Absolute paths the shell text runs as commands (a hook that calls /usr/local/bin/reload-mail)."""
    return [words[0] for words in simple_commands(script) if words and words[0].startswith("/")]


def simple_commands(script: str) -> Iterator[list[str]]:
    """The simple commands of shell text, each as its words (assignments, sudo, `then`, ... removed)."""
    for line in _logical_lines(script):
        for words in _split_line(line):
            while words and (words[0] in _SHELL_KEYWORDS or _ASSIGNMENT.match(words[0]) or words[0] == "env"):
                words = words[1:]
            if words and words[0] == "sudo":
                words = _without_sudo(words)
            if words:
                yield words


def _without_sudo(words: list[str]) -> list[str]:
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        rest = rest[2:] if rest[0] in _SUDO_OPTIONS_WITH_VALUE else rest[1:]
    return rest


def _logical_lines(script: str) -> Iterator[str]:
    pending = ""
    for raw in script.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        yield pending + raw
        pending = ""
    if pending:
        yield pending


def _split_line(line: str) -> Iterator[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()`")
    lexer.commenters = ""  # sh starts a comment only at the start of a word; handled below
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: fall back to plain words
        tokens = line.split()
    words: list[str] = []
    for token in tokens:
        if token.startswith("#"):
            break
        if token in _SEPARATORS or set(token) <= set(";&|()`"):
            if words:
                yield words
            words = []
            continue
        words.append(token.removeprefix("$("))
    if words:
        yield words


def _command_actions(words: list[str]) -> set[str]:
    program = PurePosixPath(words[0]).name
    args = words[1:]
    plain = [a for a in args if not a.startswith("-")]
    if program in ("sh", "bash", "dash") and "-c" in args:
        index = args.index("-c")
        return set(reload_actions(args[index + 1])) if index + 1 < len(args) else set()
    if program == "systemctl" and plain and plain[0] in _SYSTEMCTL_VERBS:
        return {service_name(unit) for unit in plain[1:] if _UNIT.match(unit)}
    if program in ("service", "invoke-rc.d", "rc-service") and len(plain) >= 2 and plain[1] in _INIT_VERBS:
        return {service_name(plain[0])}
    if words[0].startswith("/etc/init.d/") and plain and plain[0] in _INIT_VERBS:
        return {service_name(words[0])}
    if program == "postfix" and "reload" in plain:
        return {"postfix"}
    if program in ("doveadm", "dovecot") and "reload" in plain:
        return {"dovecot"}
    if program == "postmap" and any(a.startswith("-") and "F" in a for a in args):
        return {POSTMAP_F}
    return set()
