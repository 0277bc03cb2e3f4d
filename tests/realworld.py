"""Published mail-server configurations (../shared/realworld/sources/NAME/root), laid out as host trees.

The files are read from the team's shared folder at test time (`$MAILCERT_SHARED/realworld/sources`, else
`../shared/realworld/sources` beside the checkout) and never copied into the repository; their origin is
`sources/PROVENANCE.tsv`. A missing folder is a failure, not a skip: these are the real-world yardstick.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MAILCERT_SHARED", REPO.parent / "shared"))
SOURCES = SHARED / "realworld" / "sources"

# Files the installers create as symlinks, which the sources store as a file holding the link target:
# dovecot-core's postinst links Dovecot's default certificate and key to ssl-cert's snakeoil pair.
SYMLINKS = {
    "debian12": ("/etc/dovecot/private/dovecot.pem", "/etc/dovecot/private/dovecot.key"),
}

CONFIGS = (
    "debian12",
    "dms15",
    "dms-head",
    "mailcow",
    "iredmail",
    "mailu",
    "miab",
    "modoboa",
    "yunohost",
    "sovereign",
    "exim-rebrain",
    "exim-upstream",
)


def source_root(config: str) -> Path:
    root = SOURCES / config / "root"
    assert root.is_dir(), (
        f"{root} is missing: the published configurations sit beside the checkout (../shared/realworld), "
        "or set MAILCERT_SHARED"
    )
    return root


def host_tree(config: str, target: Path) -> Path:
    """A writable copy of the published configuration as its installer leaves it on a host; returns ROOT."""
    root = target / config
    shutil.copytree(source_root(config), root, symlinks=True)
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o700)  # the shared copies are read-only; the tests plant faults in theirs
        for name in files:
            path = Path(folder) / name
            path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o600)
    for link in SYMLINKS.get(config, ()):
        path = root / link.lstrip("/")
        destination = path.read_text().strip()
        path.unlink()
        path.symlink_to(destination)
    return root
