"""A small evaluator for the Exim string expansions that choose certificates, as seen before SNI arrives.

Exim loads the initial certificate before the client's SNI is known, so what a client without SNI gets is the
expansion with $tls_in_sni empty. This handles what certificate options use in practice: variables, `${if}`
with def:, eq/eqi/lt/le/gt/ge (lexical), match, exists, and/or and `!`. Anything else raises
`CannotEvaluate` with the construct named, so the caller can say what it could not work out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SNI_VARIABLES = ("tls_in_sni", "tls_sni")


class CannotEvaluateError(Exception):
    """An expansion item this evaluator does not know (or a variable only known at run time)."""


def mentions_sni(text: str) -> bool:
    """Exim re-expands the certificate options during the handshake when `tls_in_sni` appears in them."""
    return "tls_in_sni" in text or "tls_sni" in text


def expand(text: str, variables: dict[str, str], exists: Callable[[str], bool]) -> str:
    """The expansion of `text` with the given variables; raises CannotEvaluateError for what it cannot do."""
    return _Expander(text, variables, exists).string(0, stop="")[0]


class _Expander:
    def __init__(self, text: str, variables: dict[str, str], exists: Callable[[str], bool]) -> None:
        self.text = text
        self.variables = variables
        self.exists = exists

    def string(self, at: int, stop: str) -> tuple[str, int]:
        """Expand from `at` up to an unescaped `stop` char (or the end); returns (value, index of stop)."""
        out: list[str] = []
        text = self.text
        while at < len(text):
            char = text[at]
            if stop and char == stop:
                return "".join(out), at
            if char == "\\" and at + 1 < len(text):
                out.append(text[at + 1])
                at += 2
            elif char == "$":
                value, at = self.dollar(at)
                out.append(value)
            else:
                out.append(char)
                at += 1
        if stop:
            raise CannotEvaluateError(f"missing '{stop}' in expansion {text!r}")
        return "".join(out), at

    def variable(self, name: str) -> str:
        if name in self.variables:
            return self.variables[name]
        raise CannotEvaluateError(f"${name} is only known at run time")

    def dollar(self, at: int) -> tuple[str, int]:
        text = self.text
        plain = re.compile(r"[A-Za-z0-9_]+").match(text, at + 1)
        if plain:
            return self.variable(plain.group()), plain.end()
        if not text.startswith("{", at + 1):
            raise CannotEvaluateError(f"unsupported '$' at offset {at} in {text!r}")
        name = re.compile(r"[A-Za-z0-9_]+").match(text, at + 2)
        if not name:
            raise CannotEvaluateError(f"unsupported expansion at offset {at} in {text!r}")
        after = self.skip_space(name.end())
        if text.startswith("}", after) and name.group() != "if":
            return self.variable(name.group()), after + 1
        if name.group() != "if":
            raise CannotEvaluateError(f"expansion item ${{{name.group()} ...}} is not evaluated")
        result, at = self.condition(after)
        # Like exim, only the branch taken is expanded: the other may use what we cannot evaluate.
        yes, at = self.braced(at) if result else ("", self.skip_braced(at))
        at = self.skip_space(at)
        no = ""
        if text.startswith("{", at):
            no, at = ("", self.skip_braced(at)) if result else self.braced(at)
            at = self.skip_space(at)
        elif text.startswith("fail", at):
            raise CannotEvaluateError("${if ...} with 'fail' branch")
        if not text.startswith("}", at):
            raise CannotEvaluateError(f"malformed ${{if ...}} in {text!r}")
        return (yes if result else no), at + 1

    def skip_space(self, at: int) -> int:
        while at < len(self.text) and self.text[at].isspace():
            at += 1
        return at

    def braced(self, at: int) -> tuple[str, int]:
        """A `{...}` argument, expanded; returns (value, index after `}`)."""
        at = self.skip_space(at)
        if not self.text.startswith("{", at):
            raise CannotEvaluateError(f"expected '{{' at offset {at} in {self.text!r}")
        value, end = self.string(at + 1, stop="}")
        return value, end + 1

    def skip_braced(self, at: int) -> int:
        """Index after the `{...}` argument starting at `at` (after white space), without expanding it."""
        at = self.skip_space(at)
        if not self.text.startswith("{", at):
            raise CannotEvaluateError(f"expected '{{' at offset {at} in {self.text!r}")
        depth = 0
        while at < len(self.text):
            char = self.text[at]
            if char == "\\":
                at += 2
                continue
            depth += {"{": 1, "}": -1}.get(char, 0)
            at += 1
            if depth == 0:
                return at
        raise CannotEvaluateError(f"unbalanced braces in {self.text!r}")

    def condition(self, at: int) -> tuple[bool, int]:
        at = self.skip_space(at)
        text = self.text
        if text.startswith("!", at):
            result, at = self.condition(at + 1)
            return not result, at
        word = re.compile(r"[a-z_]+:?").match(text, at)
        if not word:
            raise CannotEvaluateError(f"unsupported condition at offset {at} in {text!r}")
        name, at = word.group(), word.end()
        if name == "def:":
            var = re.compile(r"[A-Za-z0-9_]+").match(text, at)
            if not var:
                raise CannotEvaluateError("def: without a variable name")
            return self.variable(var.group()) != "", var.end()
        if name in ("and", "or"):
            at = self.skip_space(at)
            if not text.startswith("{", at):
                raise CannotEvaluateError(f"{name} without {{...}}")
            results = []
            at = self.skip_space(at + 1)
            while text.startswith("{", at):
                result, at = self.condition(at + 1)
                at = self.skip_space(at)
                if not text.startswith("}", at):
                    raise CannotEvaluateError(f"malformed {name}{{...}} in {text!r}")
                results.append(result)
                at = self.skip_space(at + 1)
            if not text.startswith("}", at):
                raise CannotEvaluateError(f"malformed {name}{{...}} in {text!r}")
            return (all(results) if name == "and" else any(results)), at + 1
        comparisons: dict[str, Callable[[str, str], bool]] = {
            "eq": lambda a, b: a == b,
            "eqi": lambda a, b: a.lower() == b.lower(),
            "lt": lambda a, b: a < b,
            "le": lambda a, b: a <= b,
            "gt": lambda a, b: a > b,
            "ge": lambda a, b: a >= b,
            "lti": lambda a, b: a.lower() < b.lower(),
            "lei": lambda a, b: a.lower() <= b.lower(),
            "gti": lambda a, b: a.lower() > b.lower(),
            "gei": lambda a, b: a.lower() >= b.lower(),
            "match": lambda a, b: re.search(b, a) is not None,
        }
        if name in comparisons:
            first, at = self.braced(at)
            second, at = self.braced(at)
            return comparisons[name](first, second), at
        if name == "exists":
            path, at = self.braced(at)
            return self.exists(path), at
        raise CannotEvaluateError(f"condition '{name}' is not evaluated")
