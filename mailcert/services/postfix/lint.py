"""Findings about how Postfix reads main.cf and master.cf: lines it misreads, names it does not know,
settings that are defined twice or shadowed."""

from __future__ import annotations

import re

from mailcert.model import Finding, Severity
from mailcert.redaction import repr_of_value, repr_or_withheld
from mailcert.services.model import Location
from mailcert.services.postfix.config import PostfixConfig
from mailcert.services.postfix.listeners import finding
from mailcert.services.postfix.params import KNOWN_NAMES, is_relevant, looks_like_tls_parameter, suggest
from mailcert.services.postfix.syntax import WHITESPACE, Definition, Problem

_TRAILING_COMMENT = re.compile(r"\s(#.*)$")
# An indented `name = value` (Postfix names are lower case; `PATH=...` in debugger_command is a shell command).
_GLUED = re.compile(r"[ \t]+([a-z][a-z0-9_]*)(\s*)=")
_PROBLEM_TEXT = {
    "leading-whitespace": "starts with whitespace but there is no line above it to continue; Postfix ignores it "
    "('logical line must not start with whitespace')",
    "missing-equals": "has no '=' after the parameter name; Postfix refuses to start "
    "(\"fatal: missing '=' after attribute name\")",
    "missing-name": "has no parameter name before '='; Postfix refuses to start "
    '("fatal: missing attribute name")',
    "short-entry": "has fewer than the 8 fields a master.cf entry needs; the master daemon refuses to start",
    "bad-brace": "has an unbalanced `{ }` group; the master daemon refuses to start",
    "bad-override": "has an -o option without name=value; the daemon stops at startup",
}


def file_findings(config: PostfixConfig) -> list[Finding]:
    """Findings decided from main.cf and master.cf text alone."""
    findings: list[Finding] = []
    findings += _problems(config.main_path, config.main_cf.problems)
    if config.master_cf is None:
        findings.append(
            finding(
                "config.syntax",
                f"{config.master_path} is missing or unreadable: Postfix cannot start any service",
                "restore master.cf (Debian: /usr/share/postfix/master.cf.dist)",
                Location(config.master_path),
            )
        )
    else:
        findings += _problems(config.master_path, config.master_cf.problems)
    for definition in config.main_cf.definitions:
        findings += _trailing_comment(config, definition)
        findings += _glued(config, definition)
    findings += _override_comments(config)
    findings += _unknown_names(config)
    findings += _duplicates(config)
    findings += _master_cf(config)
    return findings


def _problems(path: str, problems: tuple[Problem, ...]) -> list[Finding]:
    return [
        finding(
            "config.syntax",
            f"line {p.line} {_PROBLEM_TEXT[p.kind]}: {repr_or_withheld(p.detail)}",
            "remove the leading whitespace"
            if p.kind == "leading-whitespace"
            else "write it as `name = value`"
            if p.kind.startswith("missing")
            else "correct the entry (see `man 5 master`)",
            Location(path, p.line),
        )
        for p in problems
    ]


def _trailing_comment(config: PostfixConfig, definition: Definition) -> list[Finding]:
    if not is_relevant(definition.name):
        return []
    for piece in definition.source.pieces:
        text = piece.text if piece is not definition.source.pieces[0] else piece.text.partition("=")[2]
        match = _TRAILING_COMMENT.search(text.rstrip(WHITESPACE))
        if match:
            intended = definition.value[: definition.value.rfind(match.group(1))].rstrip(WHITESPACE)
            return [
                finding(
                    "config.syntax",
                    f"{definition.name} contains {match.group(1)!r}: '#' starts a comment only at the "
                    f"beginning of a line, so Postfix uses the whole text {_shown_value(config, definition)!r} (a file by "
                    f"that name does not exist)",
                    f"move the comment to a line of its own: `{definition.name} = {intended}`",
                    Location(config.main_path, piece.line),
                )
            ]
    return []


def _override_comments(config: PostfixConfig) -> list[Finding]:
    """`-o { name = value # note }`: the long form keeps the comment in the value, as main.cf does."""
    findings: list[Finding] = []
    for entry in config.all_entries():
        for override in entry.overrides:
            match = _TRAILING_COMMENT.search(override.value)
            if match and is_relevant(override.name):
                intended = override.value[: match.start()].rstrip(WHITESPACE)
                findings.append(
                    finding(
                        "config.syntax",
                        f"-o {override.name} of {entry.key} contains {match.group(1)!r}: the value is the whole "
                        f"text {repr_of_value(override.name, override.value)}, comment included",
                        f"write `-o {{ {override.name} = {intended} }}` and put the comment on a line of its own",
                        Location(config.master_path, override.line),
                    )
                )
    return findings


def _glued(config: PostfixConfig, definition: Definition) -> list[Finding]:
    findings: list[Finding] = []
    text_before = definition.source.pieces[0].text
    for piece in definition.source.pieces[1:]:
        match = _GLUED.match(piece.text)
        open_braces = text_before.count("{") > text_before.count("}")
        text_before += piece.text
        if not match or open_braces:
            continue
        name = match.group(1)
        if not (name in KNOWN_NAMES or "_" in name or match.group(2)):
            continue
        findings.append(
            finding(
                "config.syntax",
                f"line {piece.line} starts with whitespace, so Postfix reads it as a continuation of "
                f"{definition.name} (line {definition.line}): {name} is not set, and {definition.name} "
                f"becomes {repr_of_value(definition.name, ' '.join(_shown_value(config, definition).split()))}",
                f"remove the indentation at the start of line {piece.line}",
                Location(config.main_path, piece.line),
            )
        )
    return findings


def _unknown_names(config: PostfixConfig) -> list[Finding]:
    referenced = config.referenced_names()
    candidates: list[tuple[str, str, Location]] = [
        (d.name, d.value, Location(config.main_path, d.line)) for d in config.main_cf.definitions
    ]
    for entry in config.all_entries():
        candidates += [(o.name, o.value, Location(config.master_path, o.line)) for o in entry.overrides]
    findings: list[Finding] = []
    for name, value, location in candidates:
        if name in KNOWN_NAMES or name in referenced or not looks_like_tls_parameter(name):
            continue
        guess = suggest(name)
        hint = f" (did you mean {guess}?)" if guess else ""
        fix = (
            f"rename it to {guess}"
            if guess
            else "remove it or correct the name (see `postconf -d | grep tls`)"
        )
        findings.append(
            finding(
                "config.syntax",
                f"unknown parameter {name}{hint}: Postfix only warns 'unused parameter: {name}={value}' and "
                f"ignores the setting",
                fix,
                location,
            )
        )
    return findings


def _duplicates(config: PostfixConfig) -> list[Finding]:
    findings: list[Finding] = []
    by_name: dict[str, list[Definition]] = {}
    for definition in config.main_cf.definitions:
        by_name.setdefault(definition.name, []).append(definition)
    for name, definitions in by_name.items():
        if len(definitions) < 2 or not is_relevant(name):
            continue
        last = definitions[-1]
        for earlier in definitions[:-1]:
            findings.append(
                finding(
                    "config.overridden",
                    f"{name} is set on line {earlier.line} ({earlier.value!r}) and again on line {last.line}; "
                    f"Postfix uses only the last one ({last.value!r}) and warns 'overriding earlier entry'",
                    f"keep one definition of {name}: delete line {earlier.line} or line {last.line}",
                    Location(config.main_path, earlier.line),
                )
            )
    for entry in config.all_entries():
        seen: dict[str, int] = {}
        for override in entry.overrides:
            if override.name in seen and is_relevant(override.name):
                findings.append(
                    finding(
                        "config.overridden",
                        f"{entry.key} sets -o {override.name} twice ({_lines(seen[override.name], override.line)}); "
                        f"the last one ({override.value!r}) wins",
                        f"keep one -o {override.name} in the {entry.service} entry",
                        Location(config.master_path, seen[override.name]),
                    )
                )
            seen[override.name] = override.line
    return findings


def _master_cf(config: PostfixConfig) -> list[Finding]:
    findings: list[Finding] = []
    effective = {id(e) for e in config.services()}
    for entry in config.all_entries():
        if entry.program not in ("smtpd", "postscreen"):
            continue
        if id(entry) not in effective:
            winner = config.service(entry.key)
            later = f" on line {winner.line}" if winner else ""
            findings.append(
                finding(
                    "config.overridden",
                    f"master.cf line {entry.line} defines {entry.key}, which is defined again{later}; Postfix "
                    f"keeps only the last definition, so this entry and its -o options are ignored",
                    f"merge the two {entry.key} entries into one",
                    Location(config.master_path, entry.line),
                    severity=Severity.WARNING,
                )
            )
        for line, text in entry.stray_arguments[:1]:
            comment = text.startswith("#")
            why = "'#' starts a comment only at the beginning of a line; " if comment else ""
            findings.append(
                finding(
                    "config.syntax",
                    f"{entry.key} has the argument {repr_or_withheld(text)} where an option is expected: {why}smtpd stops reading "
                    f"options at the first argument that is not one, so every -o after it is ignored (and with "
                    f"more than one such argument smtpd refuses to start)",
                    "move the comment to a line of its own starting with '#'"
                    if comment
                    else f"remove {repr_or_withheld(text)} or write it as an -o name=value option",
                    Location(config.master_path, line),
                )
            )
    return findings


def _lines(first: int, second: int) -> str:
    return f"line {first}" if first == second else f"lines {first} and {second}"


def _shown_value(config: PostfixConfig, definition: Definition) -> str:
    """The expanded value when this definition is the one in effect, else its text."""
    if config.definitions(definition.name)[-1] is definition:
        return config.try_value(definition.name)[0]
    return definition.value
