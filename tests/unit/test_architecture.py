"""The stages of docs/architecture.md, as imports: every import points down the stack, and no two packages
import each other (function-level imports count: a lazy import is still a dependency)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import mailcert

PACKAGE = Path(mailcert.__file__).parent

# Bottom to top. A module may import its own stage and the stages below it, never one above.
STAGES: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "base",
        frozenset(
            {
                "mailcert",
                "mailcert.errors",
                "mailcert.model",
                "mailcert.ports",
                "mailcert.facts",
                "mailcert.catalogue",
                "mailcert.pem",
                "mailcert.quoting",
                "mailcert.redaction",
                "mailcert.wording",
                "mailcert.symptoms",
                "mailcert.explain",
                "mailcert.client_verdicts",
                "mailcert.known_hosts",
                "mailcert.ssh_stream",
                "mailcert.hostfs",
            }
        ),
    ),
    ("inventory", frozenset({"mailcert.inventory"})),
    ("ssh", frozenset({"mailcert.ssh"})),
    ("gather", frozenset({"mailcert.gather"})),
    ("pki", frozenset({"mailcert.pki"})),
    ("services", frozenset({"mailcert.services"})),
    ("probe", frozenset({"mailcert.probe"})),
    ("dns", frozenset({"mailcert.dns"})),
    ("checks", frozenset({"mailcert.checks"})),
    ("audit", frozenset({"mailcert.audit"})),
    ("fix", frozenset({"mailcert.fix"})),
    ("verify", frozenset({"mailcert.verify"})),
    ("report", frozenset({"mailcert.report"})),
    ("lab", frozenset({"mailcert.lab"})),
    (
        "cli",
        frozenset(
            {"mailcert.tasks", "mailcert.cli", "mailcert.fastpath", "mailcert.__main__", "mailcert.demo"}
        ),
    ),
)

# Inside fix, the same rule one level down: shared modules, then edit, plan, acme, apply.
FIX_STAGES: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "fix base",
        frozenset(
            {
                "mailcert.fix",
                "mailcert.fix.model",
                "mailcert.fix.values",
                "mailcert.fix.endpoints",
                "mailcert.fix.roles",
                "mailcert.fix.worker",
                "mailcert.fix.remote",
            }
        ),
    ),
    ("fix.edit", frozenset({"mailcert.fix.edit"})),
    ("fix.plan", frozenset({"mailcert.fix.plan"})),
    ("fix.acme", frozenset({"mailcert.fix.acme"})),
    ("fix.apply", frozenset({"mailcert.fix.apply"})),
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("mailcert"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mailcert"):
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # `from pkg import module`
    return names


def _stage(module: str, stages: tuple[tuple[str, frozenset[str]], ...]) -> int | None:
    """The stage whose longest prefix names the module (so mailcert.fix.plan.x is fix.plan, not fix base)."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(stages):
        for prefix in prefixes:
            named = module == prefix or (module.startswith(prefix + ".") and prefix != "mailcert")
            if named and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def _upward(stages: tuple[tuple[str, frozenset[str]], ...], within: str) -> list[str]:
    modules = _modules()
    wrong = []
    for name, path in sorted(modules.items()):
        if not (name == within or name.startswith(within + ".")):
            continue
        own = _stage(name, stages)
        for target in sorted(_imports(path)):
            if target not in modules:
                continue  # `from pkg import function`: the pkg entry is checked instead
            theirs = _stage(target, stages)
            if own is not None and theirs is not None and theirs > own:
                wrong.append(f"{name} ({stages[own][0]}) imports {target} ({stages[theirs][0]})")
    return wrong


def test_every_module_belongs_to_a_stage() -> None:
    assert [m for m in _modules() if _stage(m, STAGES) is None] == []
    assert [m for m in _modules() if m.startswith("mailcert.fix") and _stage(m, FIX_STAGES) is None] == []


def test_imports_only_point_down_the_stages() -> None:
    assert _upward(STAGES, "mailcert") == []


def test_inside_fix_edit_plan_acme_apply_point_down() -> None:
    assert _upward(FIX_STAGES, "mailcert.fix") == []


def test_no_two_packages_import_each_other() -> None:
    modules = _modules()

    def package(module: str) -> str:
        parts = module.split(".")
        if parts[:2] == ["mailcert", "lab"]:
            return "mailcert.lab"  # the lab is one test bed (hosts, simulators, kinds), not a pipeline stage
        for depth in (3, 2):  # a sub-package (mailcert.fix.plan) counts as its own package
            candidate = ".".join(parts[:depth])
            if (
                len(parts) >= depth
                and (PACKAGE.parent / Path(*candidate.split(".")) / "__init__.py").exists()
            ) and (depth == 3 or candidate != "mailcert"):
                return candidate
        return module  # a top-level module is its own node

    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in _imports(path):
            if target in modules and package(target) != package(name):
                edges[package(name)].add(package(target))
    cycles = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, set()))
    assert cycles == []
    # And no longer cycles either: a depth-first walk finds no back edge.
    state: dict[str, int] = {}

    def walk(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*trail, node, nxt]
            if nxt not in state and (found := walk(nxt, [*trail, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            assert walk(start, []) is None
