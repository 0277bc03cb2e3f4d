"""A folder of a git commit, written out as a local tree (`review --git REV`): the base of a pre-change review.

Only git's own plumbing is used (`rev-parse`, `ls-tree`, `cat-file`); nothing is checked out in the
repository and the working tree is left alone. Regular files are written first and symlinks last, as
symlinks, so no file is ever written through a link; LocalRoot then resolves the links inside the tree.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mailcert.errors import UsageError

_GIT_TIMEOUT = 120
_MAX_BLOB_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class GitFolder:
    """Where a folder on disk sits in its repository."""

    toplevel: Path
    prefix: str  # the folder's path inside the repository, "" or ending in "/"


def _git(cwd: Path, *args: str, input_bytes: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "--literal-pathspecs", "-C", str(cwd), *args],
            input=input_bytes,
            capture_output=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(
            "git is not installed", todo="install git, or give two folders: review BASE HEAD"
        ) from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"git {args[0]} took longer than {_GIT_TIMEOUT} s", where=str(cwd)) from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(
            f"git {' '.join(args[:2])} failed: {why[-1] if why else f'exit {done.returncode}'}",
            where=str(cwd),
            todo="give a revision this repository has (fetch it first: CI checkouts are often shallow)",
        )
    return done.stdout


def locate(folder: str | Path) -> GitFolder:
    """The repository holding `folder`, and the folder's path inside it."""
    path = Path(folder)
    if not path.is_dir():
        raise UsageError(f"{folder} is not a directory", todo="give the folder that stands for the host's /")
    top = _git(path, "rev-parse", "--show-toplevel").decode().strip()
    prefix = _git(path, "rev-parse", "--show-prefix").decode().strip()
    return GitFolder(Path(top), prefix)


def commit_of(folder: GitFolder, rev: str) -> str:
    """The full commit id `rev` names (a usage error for a revision the repository lacks)."""
    if rev.startswith("-"):
        raise UsageError(f"--git {rev!r} is not a revision", todo="give a commit, branch or tag")
    return (
        _git(folder.toplevel, "rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")
        .decode()
        .strip()
    )


def write_tree(folder: GitFolder, commit: str, target: Path) -> bool:
    """Write the folder as it is in `commit` under `target`; False when the commit has no such folder."""
    listing = _git(folder.toplevel, "ls-tree", "-r", "-z", "--full-tree", commit, "--", folder.prefix or ".")
    files: list[tuple[str, str, PurePosixPath]] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, obj = meta.decode().split()
        path = PurePosixPath(raw_path.decode("utf-8", "surrogateescape"))
        if kind != "blob":  # submodules: nothing to lint
            continue
        relative = path.relative_to(folder.prefix) if folder.prefix else path
        if any(part in ("", ".", "..") for part in relative.parts):
            continue
        files.append((mode, obj, relative))
    if not files:
        return False
    links: list[tuple[PurePosixPath, str]] = []
    for mode, obj, relative in files:
        data = _git(folder.toplevel, "cat-file", "blob", obj)
        if mode == "120000":
            links.append((relative, data.decode("utf-8", "surrogateescape")))
            continue
        if len(data) > _MAX_BLOB_BYTES:
            continue  # far larger than any config; lint would not read it either
        local = target.joinpath(*relative.parts)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        if mode == "100755":
            local.chmod(0o755)
    for relative, link_target in links:
        local = target.joinpath(*relative.parts)
        local.parent.mkdir(parents=True, exist_ok=True)
        if not local.exists() and not local.is_symlink():
            local.symlink_to(link_target)
    return True


def tree_at(folder: GitFolder, rev: str, target: Path) -> tuple[Path | None, str]:
    """The folder as commit `rev` has it, written under `target` (None when the commit lacks it), and a label."""
    commit = commit_of(folder, rev)
    label = f"{folder.prefix or './'}@{commit[:12]}"
    return (target if write_tree(folder, commit, target) else None), label
