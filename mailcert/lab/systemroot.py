"""Where a lab host's system comes from: the machine's own `/`, or the Debian 13 root that
scripts/install-debian13 builds (`debian13` hosts: their /usr is that root's, their /etc starts as a copy of
that root's /etc, so daemons, libraries and account ids are all Debian 13's).

Account ids are read from the root's own /etc/passwd and /etc/group: a trixie root's `postfix` user need not
have the machine's uid.
"""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

from mailcert.lab import LabError

DEBIAN13 = "debian13"
MACHINE = Path("/")


def debian13_root() -> Path:
    return Path(os.environ.get("MAILCERT_DEBIAN13_ROOT", "/opt/mailcert/debian13"))


def debian13_installed() -> bool:
    root = debian13_root()
    return (root / ".mailcert-debian13-installed").is_file() and (root / "usr/sbin/postconf").is_file()


def system_root(kind: str) -> Path:
    """The root a host of this kind takes its /usr and its package defaults from."""
    return debian13_root() if kind == DEBIAN13 else MACHINE


def in_root(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def _account_id(root: Path, table: str, name: str) -> int | None:
    if root == MACHINE:
        try:
            return pwd.getpwnam(name).pw_uid if table == "passwd" else grp.getgrnam(name).gr_gid
        except KeyError:
            return None
    for line in in_root(root, f"/etc/{table}").read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name:
            return int(fields[2])
    return None


def user_id(name: str, root: Path = MACHINE) -> int:
    found = _account_id(root, "passwd", name)
    if found is None:
        raise LabError(
            f"system user {name!r} does not exist in {root}", todo="reinstall the package that creates it"
        )
    return found


def group_id(name: str, root: Path = MACHINE) -> int:
    """A group's id, or 0 (root) when the group does not exist."""
    found = _account_id(root, "group", name)
    return 0 if found is None else found
