"""Ansible-templated configuration in a tree: `main.cf.j2` rendered to `main.cf` with an inventory host's
variables, before lint or review reads the tree.

Plain Jinja2 in a sandbox, no Ansible: a template that needs one of Ansible's own filters or tests
(`regex_replace`, `ipaddr`, `is match`, ...) or a variable the inventory does not define cannot be rendered
here; it is reported (`config.template-unrenderable`, severity unknown: the file it stands for is not
checked) naming the filter, test or variable and the line, and the rest of the tree is still linted.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from mailcert.catalogue import Where
from mailcert.model import Finding

SUFFIX = ".j2"
_NO_FILTER = re.compile(r"No (filter|test) named '([^']+)'")


def render_tree(source: Path, target: Path, variables: Mapping[str, Any]) -> list[Finding]:
    """Copy the tree to `target` with every `X.j2` rendered to `X` (a file `X` beside it wins)."""
    shutil.copytree(source, target, symlinks=True)
    environment = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    problems: list[Finding] = []
    for template in sorted(target.rglob(f"*{SUFFIX}")):
        if template.is_symlink() or not template.is_file():
            continue
        rendered = template.with_name(template.name[: -len(SUFFIX)])
        host_path = "/" + str(rendered.relative_to(target))
        template.unlink()  # only the rendered file stands for the host's file
        text = (source / template.relative_to(target)).read_text(encoding="utf-8", errors="replace")
        if rendered.exists() or rendered.is_symlink():
            continue
        try:
            rendered.write_text(environment.from_string(text).render(variables), encoding="utf-8")
        except jinja2.TemplateError as exc:
            problems.append(_unrenderable(host_path, exc))
    return problems


def render_sides(
    sides: Sequence[Path | None], scratch: Path, variables: Mapping[str, Any]
) -> tuple[list[Path | None], tuple[list[Finding], list[Finding]]]:
    """BASE and HEAD rendered under `scratch` (None stays None), and what could not be rendered in each."""
    rendered: list[Path | None] = []
    notes: tuple[list[Finding], list[Finding]] = ([], [])
    for index, side in enumerate(sides):
        if side is None:
            rendered.append(None)
            continue
        target = scratch / f"rendered-{index}"
        notes[index].extend(render_tree(side, target, variables))
        rendered.append(target)
    return rendered, notes


def _template_line(exc: BaseException) -> int | None:
    """The template line of an error raised while rendering (Jinja2 maps its frames to the template's lines)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _unrenderable(host_path: str, exc: jinja2.TemplateError) -> Finding:
    line = getattr(exc, "lineno", None) or _template_line(exc)
    message = str(exc.message or exc)
    missing = _NO_FILTER.search(message)
    if missing:
        why = f"it uses the {missing[1]} '{missing[2]}', which only Ansible has"
        todo = f"render it with Ansible (or write it without '{missing[2]}'); {host_path} is not checked here"
    elif isinstance(exc, jinja2.UndefinedError):
        why = f"{message} in the inventory's variables for this host"
        todo = f"define the variable in the inventory (host_vars/group_vars); {host_path} is not checked here"
    else:
        why = f"Jinja2 says: {message}"
        todo = f"fix the template; {host_path} is not checked here"
    return Where(file=host_path + SUFFIX, line=line if isinstance(line, int) else None).finding(
        "config.template-unrenderable", f"the template for {host_path} cannot be rendered: {why}", todo
    )
