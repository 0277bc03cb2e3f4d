"""Ansible-style host patterns for --limit: names, groups, `a:b` / `a,b`, `!x`, `&y`, globs, `~regex`."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence

from mailcert.errors import UsageError


def split_pattern(pattern: str) -> list[str]:
    """`mail:&prod,!mx3` → ['mail', '&prod', '!mx3'] (commas or colons outside brackets separate)."""
    parts: list[str] = []
    current = ""
    depth = 0
    for ch in pattern:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch in ",:" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def select_hosts(pattern: str, hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> set[str]:
    """Names of the hosts that `pattern` selects.

    As Ansible does: plain terms are a union, then `&term`s intersect, then `!term`s remove, whatever
    their order; a pattern of only `!`/`&` terms starts from all hosts. A plain term that matches
    nothing is an error (a typo must not silently audit nothing).
    """
    terms = split_pattern(pattern)
    plain = [t for t in terms if t[0] not in "!&"]
    intersect = [t[1:] for t in terms if t[0] == "&"]
    exclude = [t[1:] for t in terms if t[0] == "!"]
    selected: set[str] = set()
    for term in plain or ["all"]:
        matched = _match(term, hosts, groups)
        if not matched:
            raise UsageError(
                f"--limit: {term!r} matches no host or group of the inventory",
                todo=f"known groups: {', '.join(sorted(groups)) or 'none'}",
            )
        selected |= matched
    for term in intersect:
        selected &= _match(term, hosts, groups)
    for term in exclude:
        selected -= _match(term, hosts, groups)
    if not selected:
        raise UsageError(f"--limit {pattern!r} leaves no host to check")
    return selected


def _match(term: str, hosts: Sequence[str], groups: Mapping[str, Sequence[str]]) -> set[str]:
    if not term:
        raise UsageError("--limit has an empty term (e.g. a trailing '!' or '&')")
    if term in ("all", "*"):
        return set(hosts)
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as exc:
            raise UsageError(f"--limit: bad regular expression {term!r}: {exc}") from None
        names = [h for h in hosts if regex.search(h)]
        group_names = [g for g in groups if regex.search(g)]
    elif any(ch in term for ch in "*?["):
        names = [h for h in hosts if fnmatch.fnmatchcase(h, term)]
        group_names = [g for g in groups if fnmatch.fnmatchcase(g, term)]
    else:
        names = [term] if term in hosts else []
        group_names = [term] if term in groups else []
    result = set(names)
    for group in group_names:
        result |= set(groups[group])
    return result
