"""Include targets built from `..`, `.`, globs and absolute paths in Dovecot and Exim configurations,
linted from a tree holding bait files outside the configuration folders: no bait file is ever read."""

from __future__ import annotations

import posixpath
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.hostfs import LocalRoot
from mailcert.pki.trust import TrustStore
from mailcert.services.include_scope import outside_folders
from tests.fuzz.strategies import no_hang

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BAIT = "BaitOutsideFolders7"
BAIT_FILES = (
    "/root/x.conf",
    "/etc/shadow",
    "/x.conf",
    "/etc/x.conf",
    "/usr/share/x.conf",
    "/etc/exim4x/x.conf",
)
SEGMENT = st.sampled_from(
    ["..", ".", "", "etc", "dovecot", "exim4", "conf.d", "root", "shadow", "*", "x.conf", "usr"]
)
TARGET = st.builds(
    lambda absolute, parts: ("/" if absolute else "") + "/".join(parts),
    st.booleans(),
    st.lists(SEGMENT, min_size=1, max_size=7),
)


@given(
    st.lists(st.tuples(st.sampled_from(["!include", "!include_try"]), TARGET), min_size=1, max_size=5),
    st.lists(st.tuples(st.sampled_from([".include", ".include_if_exists"]), TARGET), min_size=1, max_size=5),
)
def test_no_include_reads_a_file_outside_the_folders(
    dovecot: list[tuple[str, str]], exim: list[tuple[str, str]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp, no_hang():
        root = Path(tmp)
        files = {
            "/etc/dovecot/dovecot.conf": "".join(f"{d} {t}\n" for d, t in dovecot),
            "/etc/dovecot/conf.d/x.conf": "ssl = yes\n",
            "/etc/exim4/exim4.conf": "".join(f"{d} {t}\n" for d, t in exim),
            "/etc/exim4/conf.d/x.conf": "# part\n",
            **{path: f"{BAIT} {{\nroot:{BAIT}:1::\n" for path in BAIT_FILES},
        }
        for path, text in files.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([])))
        host = lint_host(LocalRoot(root), name="mx-fuzz", options=options)
    assert BAIT not in (host.error or "")
    for finding in host.findings:
        assert BAIT not in f"{finding.message} {finding.fix}"
        if finding.file is not None and finding.service in ("dovecot", "exim"):
            assert not outside_folders(finding.service, posixpath.normpath(finding.file)), finding
