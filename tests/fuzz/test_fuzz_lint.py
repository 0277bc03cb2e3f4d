"""Property: the whole `lint` pipeline (detect roles → parse every service → check every certificate
source → certbot → report in every format) on a real host tree with one hostile change gives a report,
or the tool's one-line error; never a traceback, never a hang. Every report format stays well-formed
and no control character from the host reaches a terminal raw."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.errors import MailcertError
from mailcert.hostfs import LocalRoot
from mailcert.model import Report
from mailcert.pki.trust import TrustStore
from mailcert.report import FORMATS, render
from tests.fuzz.hostile_certs import hostile_certificates
from tests.fuzz.strategies import HOSTILE_WORDS, content, junk_bytes, no_hang, tmp_root
from tests.fuzz.test_fuzz_services import DOVECOT, EXIM, POSTFIX_MAIN, POSTFIX_MASTER
from tests.lint_trees import LINEAGE, NAMES, HostTree
from tests.pki import NOW, TestPKI

PKI = TestPKI("Pipeline")
LEAF = PKI.leaf(NAMES)
LIVE = f"/etc/letsencrypt/live/{LINEAGE}"
# A C0/C1 control character other than newline and tab, raw in a report: it would drive the terminal.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

CONFIG_FILES = {
    "/etc/postfix/main.cf": POSTFIX_MAIN,
    "/etc/postfix/master.cf": POSTFIX_MASTER,
    "/etc/dovecot/dovecot.conf": DOVECOT,
    "/etc/exim.conf": EXIM,
    f"/etc/letsencrypt/renewal/{LINEAGE}.conf": ["cert", "privkey", "[renewalparams]", "renew_hook"],
}
CERT_FILES = [
    f"{LIVE}/fullchain.pem",
    f"{LIVE}/privkey.pem",
    f"/etc/letsencrypt/archive/{LINEAGE}/fullchain1.pem",
]


@st.composite
def hostile_changes(draw: st.DrawFn) -> list[tuple[str, str, bytes]]:
    """One to three changes to a healthy tree: (how, host path, bytes)."""
    changes = []
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["replace", "append", "cert", "junk-cert"]))
        if how in ("replace", "append"):
            path = draw(st.sampled_from(sorted(CONFIG_FILES)))
            changes.append((how, path, draw(content(CONFIG_FILES[path]))))
        elif how == "cert":
            _what, issued = draw(st.sampled_from(hostile_certificates()))
            changes.append(
                ("replace", draw(st.sampled_from(CERT_FILES[::2])), issued.pem + PKI.intermediate.pem)
            )
        else:
            changes.append(("replace", draw(st.sampled_from(CERT_FILES)), draw(junk_bytes)))
    return changes


def _plant(root: Path, changes: list[tuple[str, str, bytes]]) -> HostTree:
    tree = HostTree(root, PKI, LEAF)
    for how, path, data in changes:
        target = tree.path(path).resolve() if tree.path(path).is_symlink() else tree.path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if how == "append" and target.exists():
            data = target.read_bytes() + b"\n" + data
        target.write_bytes(data)
    return tree


def check_reports(report: Report) -> None:
    """Every format renders; JSON and SARIF parse; no raw control character in any of them."""
    for fmt in FORMATS:
        out = render(report, fmt, color=False)
        if fmt in ("json", "sarif"):
            json.loads(out)  # JSON escapes C0 controls itself; DEL and C1 are legal JSON text
            assert "\x1b" not in out and "\x9b" not in out
            continue
        assert not RAW_CONTROL.search(out), f"{fmt}: raw control character {RAW_CONTROL.search(out)!r}"
    render(report, "text", color=True)


@given(hostile_changes(), st.sampled_from([None, ["mail.example.test"], [HOSTILE_WORDS[0], "\x1b[31m"]]))
def test_lint_on_a_hostile_tree_gives_a_report(
    changes: list[tuple[str, str, bytes]], hostnames: list[str] | None
) -> None:
    with tmp_root() as root:
        _plant(root, changes)
        options = LintOptions(
            checks=CheckOptions(now=NOW, trust=TrustStore.of([PKI.root.cert])), hostnames=hostnames
        )
        try:
            with no_hang():
                host = lint_host(LocalRoot(root), name="mx-fuzz", options=options)
        except MailcertError as exc:
            assert exc.line().strip()
            return
        with no_hang():
            check_reports(Report(generated_at=datetime.now(UTC), evaluated_at=NOW, hosts=(host,)))
