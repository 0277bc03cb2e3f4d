"""The planner never reloads a service onto files a client would judge worse than what it serves now
(issue 18, point 1): a lineage replaced through certbot's live/ links by a self-signed certificate without
a SAN, while the daemons still serve the good one."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from mailcert.audit.host import HostAudit
from mailcert.audit.lint import LintOptions
from mailcert.checks.certs import CheckOptions
from mailcert.checks.verdict import client_view
from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.fix.plan.planner import plan_from, still_no_worse
from mailcert.hostfs import LocalRoot
from mailcert.inventory.model import InventoryHost
from mailcert.model import Finding, HostReport, Severity, Verdict
from mailcert.pki.trust import TrustStore
from tests.fix_trees import inventory_host, lint
from tests.lint_trees import LINEAGE, LIVE, NAMES, HostTree
from tests.pki import NOW, TestPKI

PKI = TestPKI()
NO_ACME = inventory_host(acme_email=None)  # nothing can be issued: the plan cannot repair the lineage
# Postfix 25, 587, 465 and Dovecot 143, 993, 110, 995, each dialled by the 4 names: 28 (port, name) pairs.
PAIRS = 28


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    return HostTree(tmp_path, PKI)


def replace_through_live(tree: HostTree) -> x509.Certificate:
    """Overwrite the lineage's files through live/ (the archive files change) with a self-signed, SAN-less
    certificate and its key, as a script run by hand did on the reported host."""
    bad = PKI.leaf(NAMES, include_san=False, cn=NAMES[0], self_signed=True)
    tree.path(f"{LIVE}/cert.pem").write_bytes(bad.pem)
    tree.path(f"{LIVE}/fullchain.pem").write_bytes(bad.pem)
    tree.path(f"{LIVE}/privkey.pem").write_bytes(bad.key_pem())
    return bad.cert


def probed(report: HostReport, served: x509.Certificate, *stale: str) -> HostReport:
    """The audit's report once the probe saw `served` (judged good) on every (port, name), and tls.stale on
    the given services."""
    endpoints = tuple(
        replace(e, clients=tuple(client_view(name, [], served) for name in e.hostnames))
        for e in report.endpoints
    )
    findings = [
        Finding("tls.stale", Severity.WARNING, "serves another certificate", "reload", service=s, port=p)
        for s, p in (("postfix", 25), ("dovecot", 993))
        if s in stale
    ]
    return replace(report, endpoints=endpoints, findings=(*report.findings, *findings))


def plan_probed(tree: HostTree, host: InventoryHost, served: x509.Certificate, *stale: str) -> HostPlan:
    report, model = lint(tree, PKI, NAMES)
    return plan_from(LocalRoot(tree.root), model, probed(report, served, *stale), host, now=NOW)  # type: ignore[arg-type]


def test_no_reload_onto_a_lineage_replaced_through_live(tree: HostTree) -> None:
    good = tree.leaf.cert
    replace_through_live(tree)
    result = plan_probed(tree, NO_ACME, good, "postfix", "dovecot")
    assert result.error is None
    assert result.changes == ()  # before: "reload postfix; reload dovecot — removes tls.stale"
    held = [line for line in result.unfixable if " not reloaded — " in line]
    assert [line.split(":")[0] for line in held] == ["postfix", "dovecot"]
    dovecot = held[1]
    assert f"it would then serve {LIVE}/fullchain.pem" in dovecot
    assert "on 16 (port, name): imap.example.test:110, mail.example.test:110" in dovecot
    assert "after a reload 'mail.example.test' [no SAN]" in dovecot
    assert ": fails (cert." in dovecot
    assert f"certbot renew --cert-name {LINEAGE} --force-renewal" in dovecot
    assert "tls.stale dovecot:993: waits — dovecot is not reloaded (see above)" in result.unfixable
    # what the plan expects: every (port, name) keeps what it is served, and its verdict
    assert len(result.endpoints) == PAIRS
    assert {(e.service, e.port) for e in result.endpoints} == {
        ("postfix", 25), ("postfix", 587), ("postfix", 465),
        ("dovecot", 143), ("dovecot", 993), ("dovecot", 110), ("dovecot", 995),
    }  # fmt: skip
    assert all(e.after == e.before and e.before.verdict is Verdict.OK for e in result.endpoints)


def test_the_replaced_lineage_is_reissued_first_when_it_can_be(tree: HostTree) -> None:
    good = tree.leaf.cert
    replace_through_live(tree)
    result = plan_probed(tree, inventory_host(), good, "postfix", "dovecot")
    kinds = [c.kind for c in result.changes]
    assert kinds == [ChangeKind.ISSUE, ChangeKind.RELOAD, ChangeKind.RELOAD]
    assert result.changes[0].command is not None and "--cert-name" in result.changes[0].command.argv
    assert not any(" not reloaded — " in line for line in result.unfixable)
    assert len(result.endpoints) == PAIRS
    for endpoint in result.endpoints:
        assert endpoint.after.verdict is Verdict.OK
        assert endpoint.after.reason == f"certbot issues {LIVE}/fullchain.pem first (checked by the re-probe)"


def test_only_the_service_that_would_get_worse_is_held(tree: HostTree) -> None:
    """Postfix serves an old certificate that expires in 5 days and its own files hold the renewal: it is
    reloaded. Dovecot uses the lineage, replaced through live/ while it serves the good one: not reloaded."""
    old = PKI.leaf(NAMES, not_after=NOW + timedelta(days=5))
    tree.write("/etc/ssl/mail/fullchain.pem", PKI.bundle(tree.leaf))
    tree.write("/etc/ssl/mail/privkey.pem", tree.leaf.key_pem(), mode=0o600)
    tree.edit("/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", "/etc/ssl/mail/fullchain.pem")
    tree.edit("/etc/postfix/main.cf", f"{LIVE}/privkey.pem", "/etc/ssl/mail/privkey.pem")
    good = tree.leaf.cert
    replace_through_live(tree)
    report, model = lint(tree, PKI, NAMES)
    report = probed(report, good, "postfix", "dovecot")
    expiring = Finding("cert.expiring", Severity.WARNING, "expires in 5 days", "renew", service="postfix")
    report = replace(
        report,
        endpoints=tuple(
            replace(e, clients=tuple(client_view(n, [expiring], old.cert) for n in e.hostnames))
            if e.service == "postfix"
            else e
            for e in report.endpoints
        ),
    )
    result = plan_from(LocalRoot(tree.root), model, report, NO_ACME, now=NOW)  # type: ignore[arg-type]
    reloads = [c.service for c in result.changes if c.kind is ChangeKind.RELOAD]
    assert reloads == ["postfix"]
    held = [line for line in result.unfixable if " not reloaded — " in line]
    assert len(held) == 1 and held[0].startswith(
        f"dovecot: not reloaded — it would then serve {LIVE}/fullchain.pem"
    )
    postfix = [e for e in result.endpoints if e.service == "postfix"]
    assert len(postfix) == 12
    assert all(e.before.verdict is Verdict.WARNING and e.after.verdict is Verdict.OK for e in postfix)
    assert {e.after.sha256 for e in postfix} == {good.fingerprint(hashes.SHA256()).hex()}  # the renewal
    dovecot = [e for e in result.endpoints if e.service == "dovecot"]
    assert len(dovecot) == 16 and all(e.after == e.before for e in dovecot)


def test_without_a_probe_the_files_now_are_the_before(tree: HostTree) -> None:
    """`fix` on an unprobed audit: what is served is taken to be the files; a reload-only plan is kept."""
    report, model = lint(tree, PKI, NAMES)
    stale = Finding("tls.stale", Severity.WARNING, "old", "reload", service="dovecot", port=993)
    report = replace(report, findings=(*report.findings, stale))
    result = plan_from(LocalRoot(tree.root), model, report, NO_ACME, now=NOW)  # type: ignore[arg-type]
    assert [c.kind for c in result.changes] == [ChangeKind.RELOAD]
    assert len(result.endpoints) == PAIRS
    assert all(e.before.verdict is Verdict.OK and e.after == e.before for e in result.endpoints)


class Gathered(LocalRoot):
    """A local tree standing in for a gathered host (no systemd units)."""

    @property
    def units(self) -> dict[str, object]:
        return {}


def test_a_certbot_step_held_back_later_takes_the_reloads_with_it(tree: HostTree) -> None:
    """DANE (plan_dane.dane_safe) may hold the re-issue back after planning; the reloads it leaves would
    serve the replaced files: fix runs the invariant again and drops them, saying why."""
    good = tree.leaf.cert
    replace_through_live(tree)
    report, model = lint(tree, PKI, NAMES)
    report = probed(report, good, "postfix", "dovecot")
    host = inventory_host()
    planned = plan_from(LocalRoot(tree.root), model, report, host, now=NOW)  # type: ignore[arg-type]
    assert [c.kind for c in planned.changes] == [ChangeKind.ISSUE, ChangeKind.RELOAD, ChangeKind.RELOAD]
    trimmed = replace(planned, changes=planned.changes[1:])  # as DANE holds the certbot step back
    audit = HostAudit(host, report, Gathered(tree.root), model)  # type: ignore[arg-type]
    options = LintOptions(CheckOptions(now=NOW, trust=TrustStore.of([PKI.root.cert])), hostnames=NAMES)

    result = still_no_worse(trimmed, audit, host, now=NOW, lint_options=options)

    assert result.changes == () and result.validations == ()
    held = [line.split(":")[0] for line in result.unfixable if " not reloaded — " in line]
    assert held == ["postfix", "dovecot"]
    assert all(e.after == e.before for e in result.endpoints)
    assert still_no_worse(planned, audit, host, now=NOW, lint_options=options).changes == planned.changes
