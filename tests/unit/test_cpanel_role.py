"""Role `cpanel` on hand-built cPanel trees (the cPanel SIMULATOR's file writer lays them out as cPanel does):
detection, the names clients use, each cPanel fault (reference §9 scenarios 30, 31 and the issue's
hostname-only service certificate and expired Domain TLS certificate) through the whole lint pipeline.
Expected check IDs decided by hand."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions, lint_host, lint_host_model
from mailcert.checks.certs import CheckOptions
from mailcert.hostfs import LocalRoot
from mailcert.lab.cpanel_sim import store
from mailcert.lab.kinds.cpanel import dovecot_conf, exim_conf
from mailcert.lab.layout import LabHost
from mailcert.model import Finding, HostReport, Severity
from mailcert.pki.trust import TrustStore
from mailcert.probe import ProbeTarget
from mailcert.services.cpanel.parser import load_cpanel
from mailcert.services.registry import detect_roles
from tests.pki import NOW, TestPKI, cert_pem, key_pem

PKI = TestPKI()
HOSTNAME = "mail.mx1.mailcert.test"
ALPHA, BETA = "alpha.mx1.mailcert.test", "beta.mx1.mailcert.test"


class CpanelTree:
    def __init__(self, tmp: Path) -> None:
        self.host = LabHost("mx1", "cpanel", "10.213.0.11", tmp)
        self.root = self.host.root
        self.root.mkdir(parents=True)
        (self.root / "usr/local/cpanel").mkdir(parents=True)
        (self.root / "usr/local/cpanel/version").write_text("11.126.0.9999\n")
        (self.root / "etc").mkdir()
        (self.root / "etc/hostname").write_text(HOSTNAME + "\n")
        (self.root / "etc/exim.conf").write_text(exim_conf(self.host))
        (self.root / "etc/dovecot").mkdir()
        (self.root / "etc/dovecot/dovecot.conf").write_text(dovecot_conf())
        store.write_accounts(self.root, {"alpha": [ALPHA], "beta": [BETA]})
        self.service([HOSTNAME, f"mail.{BETA}"])  # mail.alpha has its Domain TLS certificate
        self.domain([ALPHA, f"mail.{ALPHA}"])
        self.rebuild_sni()

    def service(self, names: list[str], *, cabundle: bool = True) -> None:
        leaf = PKI.leaf(names)
        cab = cert_pem(PKI.intermediate.cert).decode() if cabundle else ""
        for svc in ("exim", "dovecot"):
            store.install_service(
                self.root, svc, cert_pem(leaf.cert).decode(), key_pem(leaf.key).decode(), cab, "root"
            )

    def domain(self, names: list[str], **leaf_args: object) -> None:
        leaf = PKI.leaf(names, **leaf_args)  # type: ignore[arg-type]
        certificates = cert_pem(leaf.cert, PKI.intermediate.cert).decode()
        store.write_domain_tls(self.root, names, key_pem(leaf.key).decode(), certificates, "root")

    def rebuild_sni(self) -> None:
        store.rebuild_sni_conf(self.root, [HOSTNAME, f"mail.{BETA}"])


def lint(tree: CpanelTree) -> HostReport:
    opts = CheckOptions(now=NOW, trust=TrustStore.of([PKI.root.cert]))
    return lint_host(LocalRoot(tree.root), name="mx1", options=LintOptions(checks=opts))


def problems(report: HostReport) -> list[Finding]:
    return [f for f in report.findings if f.severity in (Severity.CRITICAL, Severity.WARNING)]


@pytest.fixture
def tree(tmp_path: Path) -> CpanelTree:
    return CpanelTree(tmp_path)


def test_detected_with_exim_and_dovecot_and_names_from_the_accounts(tree: CpanelTree) -> None:
    files = LocalRoot(tree.root)
    assert detect_roles(files) == ["dovecot", "exim", "cpanel"]
    host = load_cpanel(files)
    assert host.client_names == [HOSTNAME, f"mail.{ALPHA}", f"mail.{BETA}"]
    assert [d.name for d in host.domain_tls] == [ALPHA, f"mail.{ALPHA}"]
    # the key in `combined` is seen as its public key only
    combined = host.domain_tls[0].file
    assert [b.kind.value for b in combined.blocks] == ["private-key", "certificate", "certificate"]
    assert combined.keys[0].public_key_der is not None


def test_healthy_cpanel_tree_is_clean(tree: CpanelTree) -> None:
    report = lint(tree)
    assert problems(report) == []
    exim_names = {n for e in report.endpoints if e.service == "exim" and e.port == 465 for n in e.hostnames}
    assert exim_names >= {HOSTNAME, f"mail.{ALPHA}", f"mail.{BETA}"}  # the names clients use are all checked


def test_hostname_only_service_certificate(tree: CpanelTree) -> None:
    tree.service([HOSTNAME])
    found = {(f.check, f.service, f.severity, f.hostname) for f in problems(lint(tree))}
    assert ("cpanel.service-cert-names", "cpanel", Severity.CRITICAL, f"mail.{BETA}") in found
    # mail.beta has no Domain TLS certificate: exim and dovecot serve it the service certificate
    assert ("cert.name-mismatch", "exim", Severity.CRITICAL, f"mail.{BETA}") in found
    assert ("cert.name-mismatch", "dovecot", Severity.CRITICAL, f"mail.{BETA}") in found


def test_service_certificate_may_leave_out_names_with_their_own_domain_certificate(tree: CpanelTree) -> None:
    tree.service([HOSTNAME, f"mail.{BETA}"])  # mail.alpha: served alpha's Domain TLS certificate by SNI
    assert [f for f in problems(lint(tree)) if f.check == "cpanel.service-cert-names"] == []
    tree.service([HOSTNAME])
    found = [f for f in problems(lint(tree)) if f.check == "cpanel.service-cert-names"]
    assert [(f.severity, f.hostname, f.file) for f in found] == [
        (Severity.CRITICAL, f"mail.{BETA}", "/var/cpanel/ssl/exim/myexim.crt"),
        (Severity.CRITICAL, f"mail.{BETA}", "/var/cpanel/ssl/dovecot/mydovecot.crt"),
    ]


def test_missing_ca_bundle(tree: CpanelTree) -> None:
    tree.service([HOSTNAME, f"mail.{BETA}"], cabundle=False)
    found = {(f.check, f.file) for f in problems(lint(tree))}
    assert ("cpanel.cabundle-missing", "/var/cpanel/ssl/exim/myexim.crt") in found
    assert ("cpanel.cabundle-missing", "/var/cpanel/ssl/dovecot/mydovecot.crt") in found
    assert ("config.cert-not-fullchain", "/etc/exim.conf") in found  # the generic check sees the same file


def test_stale_sni_conf_missing_an_entry(tree: CpanelTree) -> None:
    tree.domain([BETA, f"mail.{BETA}"])  # AutoSSL added beta; nobody rebuilt sni.conf
    found = [f for f in problems(lint(tree)) if f.check == "cpanel.sni-stale"]
    assert [(f.severity, f.hostname, f.file) for f in found] == [
        (Severity.WARNING, BETA, "/etc/dovecot/sni.conf")
    ]


def test_stale_sni_conf_older_than_domain_tls(tree: CpanelTree) -> None:
    sni = tree.root / "etc/dovecot/sni.conf"
    stamp = sni.stat().st_mtime
    os.utime(sni, (stamp - 60, stamp - 60))
    found = [f.message for f in problems(lint(tree)) if f.check == "cpanel.sni-stale"]
    assert found == [
        "/etc/dovecot/sni.conf is older than /var/cpanel/ssl/domain_tls (changed since the last rebuild)"
    ]
    tree.rebuild_sni()
    assert [f for f in problems(lint(tree)) if f.check == "cpanel.sni-stale"] == []


def test_expired_domain_certificate(tree: CpanelTree) -> None:
    tree.domain(
        [ALPHA, f"mail.{ALPHA}"], not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=10)
    )
    tree.rebuild_sni()
    found = {(f.check, f.service, f.file) for f in problems(lint(tree))}
    # Exim picks the entry named by the SNI; Dovecot's sni.conf block for alpha's names uses the first entry
    assert ("cert.expired", "exim", f"/var/cpanel/ssl/domain_tls/mail.{ALPHA}/combined") in found
    assert ("cert.expired", "dovecot", f"/var/cpanel/ssl/domain_tls/{ALPHA}/combined") in found


def test_domain_certificate_for_another_name(tree: CpanelTree) -> None:
    tree.domain([f"mail.{ALPHA}"])
    tree.rebuild_sni()
    leaf = PKI.leaf(["other.example"])
    combined = key_pem(leaf.key) + cert_pem(leaf.cert, PKI.intermediate.cert)
    (tree.root / f"var/cpanel/ssl/domain_tls/mail.{ALPHA}/combined").write_bytes(combined)
    found = [(f.check, f.hostname) for f in problems(lint(tree)) if f.check.startswith("cpanel.")]
    assert found == [("cpanel.domain-cert-names", f"mail.{ALPHA}")]


def test_audit_of_the_gathered_tree_equals_lint_of_the_tree(tree: CpanelTree) -> None:
    """The gather program sends what role cpanel reads (userdomains, the marker, Domain TLS, sni.conf),
    keys as public keys only: audit and lint agree, healthy and with a stale sni.conf."""
    import subprocess

    from mailcert.gather import GatheredHost, gather_argv

    # gather run on a folder (not /) follows absolute symlinks out of it: make cPanel's links relative here
    for link in (
        tree.root / "etc/myexim.crt",
        tree.root / "etc/myexim.key",
        *(tree.root / "etc/dovecot/ssl").iterdir(),
    ):
        target = tree.root / str(link.readlink()).lstrip("/")
        link.unlink()
        link.symlink_to(os.path.relpath(target, link.parent))
    tree.domain([BETA, f"mail.{BETA}"])
    for _ in range(2):
        output = subprocess.run(
            gather_argv(str(tree.root)), capture_output=True, text=True, check=True, timeout=120
        )
        assert "PRIVATE KEY-----\n" not in output.stdout
        gathered = GatheredHost.from_output(output.stdout, name="mx1")
        opts = CheckOptions(now=NOW, trust=TrustStore.of([PKI.root.cert]))
        assert lint_host(gathered, name="mx1", options=LintOptions(checks=opts)) == lint(tree)
        tree.rebuild_sni()
    assert "cpanel.sni-stale" not in {f.check for f in lint(tree).findings}


def test_an_sni_certificate_no_client_name_selects_is_not_probed_by_address(
    tree: CpanelTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lab's inventory of a cPanel host: hostname, mail.alpha (Domain TLS), mail.beta (service cert).
    # Exim's expansion also has an entry for alpha itself, which no client name selects. Probed by address
    # it would answer with the service certificate, which the audit called tls.stale (the cPanel lab's
    # false positive). Lint still checks its files; the probe leaves it out.
    from mailcert.audit.host import probe_endpoints
    from tests.fix_trees import inventory_host

    names = [HOSTNAME, f"mail.{ALPHA}", f"mail.{BETA}"]
    opts = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([PKI.root.cert])), hostnames=names)
    report = lint_host_model(LocalRoot(tree.root), name="mx1", options=opts)[0]
    unnamed = {
        (e.service, e.port, e.configured.cert_file, e.by_sni) for e in report.endpoints if not e.hostnames
    }
    alpha_entry = f"/var/cpanel/ssl/domain_tls/{ALPHA}/combined"
    assert ("exim", 25, alpha_entry, True) in unnamed
    assert (
        "dovecot",
        143,
        "/etc/dovecot/ssl/dovecot.crt",
        False,
    ) in unnamed  # the default: probed by address
    probed: list[tuple[str, int]] = []

    def record(targets: list[ProbeTarget], **_: object) -> list[object]:
        probed.extend((t.hostname, t.port) for t in targets)
        raise _StopError

    monkeypatch.setattr("mailcert.probe.probe_all", record)
    with pytest.raises(_StopError):
        probe_endpoints(inventory_host(names), report.endpoints, opts.checks, report.findings)
    assert ("127.0.0.1", 143) in probed  # the default certificate of a listener, by address
    assert ("127.0.0.1", 25) not in probed  # Exim's only unnamed endpoint is the alpha SNI entry
    assert {(f"mail.{ALPHA}", 25), (f"mail.{BETA}", 25), (HOSTNAME, 25)} <= set(probed)


class _StopError(Exception):
    pass
