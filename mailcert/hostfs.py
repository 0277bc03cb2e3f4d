"""A host's filesystem seen through a directory ROOT (lint): absolute paths and symlinks resolve under ROOT.

Nothing outside ROOT is ever read: every path is resolved component by component, absolute symlink
targets are re-rooted, and a link that climbs above ROOT is refused.
"""

from __future__ import annotations

import errno
import fnmatch
import grp
import os
import pwd
import stat
from functools import lru_cache
from pathlib import Path, PurePosixPath

from mailcert.errors import UsageError
from mailcert.facts import FileFacts, TextFile
from mailcert.pem import MAX_PEM_BYTES, scan_pem
from mailcert.redaction import redact_text

MAX_CONFIG_BYTES = 4 * 1024 * 1024
_MAX_LINKS = 40


class _RefusedError(Exception):
    """A path that must not be followed (loop, escape, missing component)."""


class LocalRoot:
    """HostFiles over a local directory standing for a host's `/`."""

    def __init__(self, root: str | Path) -> None:
        path = Path(root)
        if not path.is_dir():
            raise UsageError(
                f"ROOT {root} is not a directory", todo="give the folder that holds etc/ of the host"
            )
        self.root = path.resolve()
        # Owner and group names as the host knows them (a copied tree's uids mean nothing on this machine).
        self._users = _id_names(self.root / "etc/passwd")
        self._groups = _id_names(self.root / "etc/group")

    # -- resolution -------------------------------------------------------------------------------
    def _resolve(self, host_path: str) -> tuple[Path, str]:
        """The real local path for a host path, and the host path it resolved to (links followed)."""
        if not host_path.startswith("/"):
            raise _RefusedError(f"{host_path!r} is not an absolute path")
        if "\x00" in host_path:
            raise _RefusedError("path contains a NUL byte")
        parts = host_path.split("/")[1:]  # "" and "." components are skipped below
        root = str(self.root)
        resolved: list[str] = []
        links = 0
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not resolved:
                    raise _RefusedError(f"{host_path} climbs above /")
                resolved.pop()
                continue
            # Strings, not Path objects: pathlib's parsing per component was a large part of lint's time.
            target = _link_target(os.path.join(root, *resolved, part), host_path)  # noqa: PTH118
            if target is not None:
                links += 1
                if links > _MAX_LINKS:
                    raise _RefusedError(f"{host_path}: too many levels of symbolic links (a loop?)")
                if target.startswith("/"):
                    resolved = []
                parts = target.split("/") + parts
                continue
            resolved.append(part)
        return Path(os.path.join(root, *resolved)), "/" + "/".join(resolved)  # noqa: PTH118

    def _local(self, host_path: str) -> Path | None:
        try:
            return self._resolve(host_path)[0]
        except _RefusedError:
            return None

    # -- HostFiles --------------------------------------------------------------------------------
    def stat(self, path: str) -> FileFacts:
        return self._stat(path)[0]

    def _stat(self, path: str) -> tuple[FileFacts, Path | None]:
        """The file's facts and its local path (None when refused), resolving the path once."""
        try:
            local, resolved = self._resolve(path)
        except _RefusedError as exc:
            return FileFacts(path=path, exists=False, error=str(exc)), None
        try:
            st = local.stat()
        except FileNotFoundError:
            return FileFacts(path=path, exists=False, error="no such file", resolved=resolved), local
        except OSError as exc:
            return FileFacts(
                path=path, exists=False, error=exc.strerror or str(exc), resolved=resolved
            ), local
        facts = FileFacts(
            path=path,
            exists=True,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            owner=self._users.get(st.st_uid) if self._users else _user_name(st.st_uid),
            group=self._groups.get(st.st_gid) if self._groups else _group_name(st.st_gid),
            mtime=st.st_mtime,
            size=st.st_size,
            resolved=resolved,
            error=None if stat.S_ISREG(st.st_mode) else "not a regular file",
        )
        return facts, local

    def _read_bytes(self, path: str, limit: int) -> tuple[FileFacts, bytes | None]:
        facts, local = self._stat(path)
        if not facts.exists or facts.error or local is None:
            return facts, None
        if facts.size is not None and facts.size > limit:
            return _with_error(facts, f"file is larger than {limit // 1024} KiB; not read"), None
        try:
            with local.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            return _with_error(facts, f"cannot read: {exc.strerror or exc}"), None
        if len(data) > limit:
            return _with_error(facts, f"file is larger than {limit // 1024} KiB; not read"), None
        return facts, data

    def pem_file(self, path: str) -> FileFacts:
        facts, data = self._read_bytes(path, MAX_PEM_BYTES)
        if data is None:
            return facts
        blocks, pem_error = scan_pem(data)
        return FileFacts(**{**facts.__dict__, "blocks": blocks, "pem_error": pem_error})

    def read_config(self, path: str) -> TextFile:
        facts, data = self._read_bytes(path, MAX_CONFIG_BYTES)
        if data is None:
            return TextFile(path=path, text=None, error=facts.error or "no such file", mtime=facts.mtime)
        # secrets blanked as gather.sh blanks them on a host: `lint ROOT` sees what `audit` sees
        return TextFile(path=path, text=redact_text(decode_config(data), path), mtime=facts.mtime)

    def glob(self, pattern: str) -> list[str]:
        """Shell-glob matching one path component at a time (a `*` never crosses `/`; dotfiles need a dot)."""
        matches = ["/"]
        for component in PurePosixPath(pattern).parts[1:]:
            step: list[str] = []
            for parent in matches:
                prefix = parent.rstrip("/")
                if not any(ch in component for ch in "*?["):
                    step.append(f"{prefix}/{component}")  # existence is checked once, at the end
                    continue
                step += [
                    f"{prefix}/{name}"
                    for name in self.listdir(parent)
                    if fnmatch.fnmatchcase(name, component)
                    and (component.startswith(".") or not name.startswith("."))
                ]
            matches = step
        return sorted(m for m in matches if m != "/" and self.exists(m))

    def exists(self, path: str) -> bool:
        local = self._local(path)
        try:
            return local is not None and local.exists()
        except OSError:  # e.g. the whole path is longer than PATH_MAX
            return False

    def is_dir(self, path: str) -> bool:
        local = self._local(path)
        try:
            return local is not None and local.is_dir()
        except OSError:
            return False

    def listdir(self, path: str) -> list[str]:
        local = self._local(path)
        if local is None:
            return []
        try:  # not a folder, missing, unreadable or a name too long: nothing listed
            return sorted(p.name for p in local.iterdir())
        except OSError:
            return []


def decode_config(data: bytes) -> str:
    """Config text as the daemons read it: bytes, so undecodable bytes are kept visible, never fatal."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _with_error(facts: FileFacts, error: str) -> FileFacts:
    return FileFacts(**{**facts.__dict__, "error": error})


def _link_target(local: str, host_path: str) -> str | None:
    """Where the symlink `local` points, or None when it is no symlink (or missing: reading it says so).
    One readlink() instead of lstat() + readlink(): it tells "not a link" (EINVAL) from a refused path."""
    try:
        return os.readlink(local)  # noqa: PTH115 — a string path, as in _resolve
    except OSError as exc:
        if exc.errno in _NOT_A_LINK:
            return None
        # a name longer than the filesystem allows (ENAMETOOLONG) is a refused path, not a crash
        raise _RefusedError(f"{host_path[:200]}: {exc.strerror or exc}") from None


_NOT_A_LINK = frozenset({errno.EINVAL, errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


@lru_cache(maxsize=256)
def _user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


@lru_cache(maxsize=256)
def _group_name(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def _id_names(path: Path) -> dict[int, str]:
    """uid/gid → name from a passwd- or group-format file under ROOT; empty when absent or unreadable."""
    names: dict[int, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return names
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            names.setdefault(int(fields[2]), fields[0])
    return names
