"""Config-only trees (issue 21): an ops repository keeps configuration in git and certificates on the hosts.

Absent files are one info finding each; what certbot's layout decides without the files is still decided;
a tree that holds the files (a full copy of a host) is linted exactly as before, and so is audit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.cli import main
from mailcert.hostfs import LocalRoot
from mailcert.model import Finding, HostReport, Severity, Status
from mailcert.tasks.options import check_options
from tests.lint_trees import LINEAGE, LIVE, HostTree
from tests.pki import TestPKI

ARCHIVE = f"/etc/letsencrypt/archive/{LINEAGE}"


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI()


def config_only(tmp_path: Path, pki: TestPKI, *, keep_certbot_conf: bool = False) -> HostTree:
    """The healthy host's tree with every certificate and key taken out (what an ops repository holds)."""
    tree = HostTree(tmp_path / "root", pki)
    letsencrypt = tree.path("/etc/letsencrypt")
    if keep_certbot_conf:
        shutil.rmtree(letsencrypt / "archive")
        shutil.rmtree(letsencrypt / "live")
    else:
        shutil.rmtree(letsencrypt)
    return tree


def lint(tree: HostTree, *, as_tree: bool = True, hostnames: list[str] | None = None) -> HostReport:
    options = LintOptions(checks=check_options("2026-12-01T00:00:00Z", []), hostnames=hostnames, tree=as_tree)
    return lint_host(LocalRoot(tree.root), name="mx1", options=options)


def checks(host: HostReport, severity: Severity | None = None) -> list[str]:
    return sorted(f.check for f in host.findings if severity is None or f.severity is severity)


def only(host: HostReport, check: str) -> Finding:
    found = [f for f in host.findings if f.check == check]
    assert len(found) == 1, host.findings
    return found[0]


def test_a_healthy_config_only_tree_is_ok_and_names_each_absent_file_once(
    tmp_path: Path, pki: TestPKI
) -> None:
    host = lint(config_only(tmp_path, pki))
    assert host.status is Status.OK
    info = [f for f in host.findings if f.check == "config.file-not-in-tree"]
    # fullchain.pem and privkey.pem, each used by Postfix and Dovecot on seven ports: said once per file
    assert sorted(f.message.split(" ")[0] for f in info) == [f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem"]
    assert all(
        f.severity is Severity.INFO and "lives on the host; not in this tree" in f.message for f in info
    )
    assert checks(host) == ["config.file-not-in-tree"] * 2


def test_require_files_makes_absent_files_missing_as_on_a_host(tmp_path: Path, pki: TestPKI) -> None:
    host = lint(config_only(tmp_path, pki), as_tree=False)
    assert "cert.missing" in checks(host, Severity.CRITICAL)
    assert "config.file-not-in-tree" not in checks(host)


def test_certbots_leaf_only_cert_pem_is_named_without_the_file(tmp_path: Path, pki: TestPKI) -> None:
    tree = config_only(tmp_path, pki)
    tree.edit("/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", f"{LIVE}/cert.pem")
    finding = only(lint(tree), "config.cert-not-fullchain")
    assert (finding.severity, finding.service, finding.file, finding.line) == (
        Severity.CRITICAL,
        "postfix",
        "/etc/postfix/main.cf",
        5,
    )
    assert "leaf" in finding.message and f"{LIVE}/fullchain.pem" in finding.fix


def test_chain_pem_as_the_certificate(tmp_path: Path, pki: TestPKI) -> None:
    tree = config_only(tmp_path, pki)
    tree.edit("/etc/dovecot/dovecot.conf", f"<{LIVE}/fullchain.pem", f"<{LIVE}/chain.pem")
    finding = only(lint(tree), "cert.leaf-not-first")
    assert (finding.service, finding.file, finding.line) == ("dovecot", "/etc/dovecot/dovecot.conf", 3)


def test_key_and_certificate_from_two_lineages(tmp_path: Path, pki: TestPKI) -> None:
    tree = config_only(tmp_path, pki)
    tree.edit("/etc/dovecot/dovecot.conf", f"<{LIVE}/privkey.pem", f"<{LIVE}-0001/privkey.pem")
    finding = only(lint(tree), "key.mismatch")
    assert (finding.file, finding.line, finding.severity) == (
        "/etc/dovecot/dovecot.conf",
        4,
        Severity.CRITICAL,
    )


def test_archive_paths_the_next_renewal_leaves_behind(tmp_path: Path, pki: TestPKI) -> None:
    tree = config_only(tmp_path, pki)
    tree.edit("/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", f"{ARCHIVE}/fullchain3.pem")
    finding = only(lint(tree), "renewal.unmanaged-path")
    assert (finding.file, finding.line, finding.severity) == ("/etc/postfix/main.cf", 5, Severity.WARNING)
    assert f"{LIVE}/fullchain.pem" in finding.fix


def test_archive_path_said_once_when_certbots_renewal_conf_is_in_the_tree(
    tmp_path: Path, pki: TestPKI
) -> None:
    tree = config_only(tmp_path, pki, keep_certbot_conf=True)
    tree.edit("/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", f"{ARCHIVE}/fullchain3.pem")
    host = lint(tree)
    assert checks(host).count("renewal.unmanaged-path") == 1


def test_lineage_named_after_none_of_the_names_clients_use(tmp_path: Path, pki: TestPKI) -> None:
    tree = config_only(tmp_path, pki)
    assert "cert.name-mismatch" not in checks(
        lint(tree, hostnames=["mail.example.test", "imap.example.test"])
    )
    found = [
        f for f in lint(tree, hostnames=["imap.example.org"]).findings if f.check == "cert.name-mismatch"
    ]
    assert sorted((f.service, f.severity) for f in found) == [
        ("dovecot", Severity.WARNING),
        ("postfix", Severity.WARNING),
    ]
    assert all(LINEAGE in f.message and f.hostname == "imap.example.org" for f in found)


def test_config_decisions_stay_in_a_config_only_tree(tmp_path: Path, pki: TestPKI) -> None:
    tree = config_only(tmp_path, pki)
    tree.edit("/etc/dovecot/dovecot.conf", f"ssl_cert = <{LIVE}", f"ssl_cert = {LIVE}")
    tree.edit("/etc/postfix/master.cf", "  -o smtpd_tls_wrappermode=yes\n", "")
    found = checks(lint(tree))
    assert "config.dovecot-missing-lt" in found
    assert "config.mode-mismatch" in found or "config.tls-disabled" in found


def test_renewal_hooks_in_the_tree_are_still_checked(tmp_path: Path, pki: TestPKI) -> None:
    tree = config_only(tmp_path, pki, keep_certbot_conf=True)
    tree.path("/etc/letsencrypt/renewal-hooks/deploy/reload-mail").unlink()
    assert "renewal.no-reload-hook" in checks(lint(tree))


@pytest.mark.parametrize(
    "fault",
    ["healthy", "leaf-only", "missing-file", "other-lineage-key"],
)
def test_a_tree_that_holds_the_files_is_linted_exactly_as_before(
    tmp_path: Path, pki: TestPKI, fault: str
) -> None:
    tree = HostTree(tmp_path / "root", pki)
    if fault == "leaf-only":
        tree.edit("/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", f"{LIVE}/cert.pem")
    elif fault == "missing-file":  # a real host whose config names a file that is not there
        tree.edit("/etc/dovecot/dovecot.conf", f"<{LIVE}/fullchain.pem", "</etc/ssl/gone.pem")
    elif fault == "other-lineage-key":
        tree.edit("/etc/dovecot/dovecot.conf", f"<{LIVE}/privkey.pem", f"<{LIVE}-0001/privkey.pem")
    assert lint(tree, as_tree=True) == lint(tree, as_tree=False)
    if fault == "missing-file":
        assert "cert.missing" in checks(lint(tree), Severity.CRITICAL)
    if fault == "other-lineage-key":
        assert "key.missing" in checks(lint(tree), Severity.CRITICAL)


def test_audit_keeps_a_file_missing_on_the_host_critical(tmp_path: Path, pki: TestPKI) -> None:
    """audit lints gathered files with LintOptions' default: a host is never a config-only tree."""
    tree = config_only(tmp_path, pki)
    host = lint_host(LocalRoot(tree.root), name="mx1", options=LintOptions(checks=check_options(None, [])))
    assert "cert.missing" in checks(host, Severity.CRITICAL)
    assert "config.file-not-in-tree" not in checks(host)


def test_lint_command_on_a_config_only_tree(
    tmp_path: Path, pki: TestPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = config_only(tmp_path, pki)
    with pytest.raises(SystemExit) as ok:
        main(["mailcert", "lint", str(tree.root), "--format", "json"])
    assert ok.value.code == 0
    assert '"config.file-not-in-tree"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as strict:
        main(["mailcert", "lint", str(tree.root), "--require-files", "--format", "json"])
    assert strict.value.code == 2
    assert '"cert.missing"' in capsys.readouterr().out


def test_sni_entry_no_client_name_selects(tmp_path: Path, pki: TestPKI) -> None:
    tree = config_only(tmp_path, pki)
    tree.append(
        "/etc/postfix/main.cf",
        "tls_server_sni_maps = texthash:/etc/postfix/sni\n",
    )
    other = "/etc/letsencrypt/live/smtp.example.org"
    tree.write(
        "/etc/postfix/sni",
        f"mail.example.test {LIVE}/privkey.pem {LIVE}/fullchain.pem\n"
        f"smtp.example.org {other}/privkey.pem {other}/fullchain.pem\n",
    )
    names = ["mail.example.test", "imap.example.test"]
    found = [f for f in lint(tree, hostnames=names).findings if f.check == "config.overridden"]
    assert {(f.file, f.line, f.severity) for f in found} == {("/etc/postfix/sni", 2, Severity.WARNING)}
    assert "smtp.example.org" in found[0].message
    # without --hostname the configuration's own names are the clients' names: nothing to say
    assert "config.overridden" not in checks(lint(tree))
