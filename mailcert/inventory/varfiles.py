"""`group_vars/` and `host_vars/` beside the inventory: NAME, NAME.yml, NAME.yaml, NAME.json or a folder NAME/."""

from __future__ import annotations

from pathlib import Path

from mailcert.inventory.raw import Var
from mailcert.inventory.yamlsource import YamlDocument, read_text

_EXTENSIONS = ("", ".yml", ".yaml", ".json")


def vars_for(folder: Path, name: str) -> dict[str, Var]:
    """Variables for group or host `name` from `folder` (group_vars or host_vars); later files win."""
    merged: dict[str, Var] = {}
    for path in _files_for(folder, name):
        merged.update(load_vars_file(path))
    return merged


def _files_for(folder: Path, name: str) -> list[Path]:
    # A name is one file name in the folder: "../x" or "a/b" must not reach files outside it.
    if not folder.is_dir() or "/" in name or "\0" in name or name in ("", ".", ".."):
        return []
    found: list[Path] = []
    for extension in _EXTENSIONS:
        candidate = folder / f"{name}{extension}"
        try:  # a name longer than the filesystem allows (ENAMETOOLONG) simply has no vars file
            if candidate.is_file():
                found.append(candidate)
            elif extension == "" and candidate.is_dir():
                found.extend(
                    sorted(
                        p
                        for p in candidate.rglob("*")
                        if p.is_file() and p.suffix in _EXTENSIONS and not p.name.startswith(".")
                    )
                )
        except OSError:
            continue
    return found


def load_vars_file(path: Path) -> dict[str, Var]:
    """A YAML (or JSON) mapping of variables, each with its line."""
    doc = YamlDocument(path, read_text(path))
    if doc.root is None:
        return {}
    return doc.variables(doc.root, "a variables file")
