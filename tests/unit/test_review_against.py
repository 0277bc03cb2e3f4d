"""`review --against HOST`: the tree's config laid over the host's gathered files, linted with the host's
real certificates. The host here is a planted tree read by the real gather program (as on a host, without
SSH); tests/lab/test_review_against.py does the same over SSH with a lab host."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from mailcert.audit.against import Overlay, review_against
from mailcert.audit.lint import LintOptions
from mailcert.gather import GatheredHost, gather_argv
from mailcert.hostfs import LocalRoot
from mailcert.model import Severity, Status
from mailcert.tasks.options import check_options
from tests.debian13 import require_debian13, run_debian13
from tests.lint_trees import LIVE, NAMES, HostTree
from tests.pki import TestPKI

OTHER = "www.example.test"


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def scene(tmp_path: Path) -> tuple[HostTree, Path, Path]:
    """A host with two lineages (the mail one, and a web one for www only), and its config in an ops tree."""
    pki = TestPKI()
    (tmp_path / "roots.pem").write_bytes(pki.root_pem())
    host = HostTree(tmp_path / "host", pki)
    host.lineage(OTHER, pki.leaf([OTHER]))
    repo = tmp_path / "repo"
    for side in ("base", "head"):
        for folder in ("etc/postfix", "etc/dovecot"):
            shutil.copytree(host.root / folder, repo / side / folder)
    conf = repo / "head/etc/dovecot/dovecot.conf"
    conf.write_text(conf.read_text().replace(LIVE, f"/etc/letsencrypt/live/{OTHER}"))
    return host, repo / "base", repo / "head"


def gathered(host: HostTree) -> GatheredHost:
    output = subprocess.run(
        gather_argv(str(host.root)), capture_output=True, text=True, check=True, timeout=120
    )
    return GatheredHost.from_output(output.stdout, name="mx1")


def options(host: HostTree) -> LintOptions:
    roots = str(host.root.parent / "roots.pem")  # the test PKI's root, as --ca-bundle / mailcert_ca_bundle
    return LintOptions(checks=check_options(None, [roots]), hostnames=NAMES, tree=False)


def test_the_change_is_judged_with_the_hosts_real_certificates(scene: tuple[HostTree, Path, Path]) -> None:
    host, base, head = scene
    before = snapshot(host.root)
    review = review_against(
        LocalRoot(base), LocalRoot(head), gathered(host), name="mx1", options=options(host)
    )
    introduced = {
        (f.check, f.service, f.hostname) for f in review.introduced if f.severity is Severity.CRITICAL
    }
    # Dovecot would serve the www lineage: a certificate that does not cover the names IMAP clients use
    assert ("cert.name-mismatch", "dovecot", "imap.example.test") in introduced
    assert {check for check, service, _ in introduced} == {"cert.name-mismatch"}
    assert all(service == "dovecot" for _, service, _ in introduced)
    assert review.status is Status.CRITICAL
    assert not [f for f in review.head.findings if f.check in ("config.file-not-in-tree", "cert.missing")]
    assert snapshot(host.root) == before  # read-only


def test_an_unchanged_tree_over_the_host_introduces_nothing(scene: tuple[HostTree, Path, Path]) -> None:
    host, base, _head = scene
    review = review_against(
        LocalRoot(base), LocalRoot(base), gathered(host), name="mx1", options=options(host)
    )
    assert review.introduced == [] and review.removed == []


def test_overlay_prefers_the_trees_files_and_keeps_the_hosts(scene: tuple[HostTree, Path, Path]) -> None:
    host, _base, head = scene
    overlay = Overlay(LocalRoot(head), gathered(host))
    assert OTHER in (overlay.read_config("/etc/dovecot/dovecot.conf").text or "")
    assert overlay.pem_file(f"{LIVE}/fullchain.pem").certificates  # from the host
    assert "renewal" in overlay.listdir("/etc/letsencrypt")


def test_a_dovecot_23_config_proposed_for_a_dovecot_24_host_is_refused(
    scene: tuple[HostTree, Path, Path],
) -> None:
    """The host's daemons decide how a proposed config is read: this tree's Dovecot config is 2.3 syntax
    (`ssl_cert = <…`, no dovecot_config_version), which Dovecot 2.4 refuses to start with. The host is the
    same tree gathered under Debian 13's /usr (its real `dovecot --version`: 2.4.1)."""
    require_debian13()
    host, base, head = scene
    output = run_debian13(gather_argv(str(host.root)), timeout=120)
    assert output.returncode == 0, output.stderr
    on_24 = GatheredHost.from_output(output.stdout, name="mx1")
    assert on_24.versions["dovecot"].startswith("2.4.")
    review = review_against(LocalRoot(base), LocalRoot(head), on_24, name="mx1", options=options(host))
    refused = [f for f in review.head.findings if f.check == "config.syntax" and f.service == "dovecot"]
    assert refused and "dovecot_config_version" in refused[0].message
    assert refused[0].severity is Severity.CRITICAL
    on_23 = review_against(
        LocalRoot(base), LocalRoot(head), gathered(host), name="mx1", options=options(host)
    )
    assert not [f for f in on_23.head.findings if f.check == "config.syntax"]  # the same tree on 2.3: fine
