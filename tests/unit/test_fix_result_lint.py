"""mailcert's own lint of the result, before anything is sent: the planner lints the host's files with its
changes applied, and a change whose result has a new critical config/cert/key finding is refused — no
change planned, the reason naming the finding, nothing written or reloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions
from mailcert.checks.certs import CheckOptions
from mailcert.fix.apply.host import apply_host
from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan
from mailcert.fix.plan.planner import plan_from
from mailcert.fix.plan.result_lint import new_errors, refusal, result_files
from mailcert.hostfs import LocalRoot
from mailcert.inventory.model import InventoryHost
from mailcert.model import HostReport
from mailcert.pki.trust import TrustStore
from mailcert.ssh import StrictConnection
from tests.fix_trees import inventory_host, lint, plan
from tests.lint_trees import LINEAGE, NAMES, HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
MAIN_CF = "/etc/postfix/main.cf"
OPTIONS = LintOptions(
    checks=CheckOptions(now=scenarios.NOW, trust=TrustStore.of([PKI.root.cert])), hostnames=list(NAMES)
)


@pytest.fixture
def leaf_only_with_broken_fullchain(tmp_path: Path) -> HostTree:
    """Postfix points at cert.pem (leaf only); the lineage's fullchain.pem, which the fix points it at, is
    garbage (a disk error, a bad copy): the planned repoint would make Postfix's certificate unusable."""
    tree = HostTree(tmp_path, PKI)
    tree.edit(MAIN_CF, "/fullchain.pem", "/cert.pem")
    tree.write(f"/etc/letsencrypt/archive/{LINEAGE}/fullchain1.pem", "garbage\n")
    return tree


def sums(tree: HostTree) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(tree.root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("options", [None, OPTIONS], ids=["default-options", "audit-options"])
def test_a_change_introducing_a_new_error_is_refused_naming_the_finding(
    leaf_only_with_broken_fullchain: HostTree, options: LintOptions | None
) -> None:
    tree = leaf_only_with_broken_fullchain
    before = sums(tree)
    report, model = lint(tree, PKI, list(NAMES))
    assert "config.cert-not-fullchain" in {f.check for f in report.findings}

    result = plan_from(
        LocalRoot(tree.root), model, report, inventory_host(), now=scenarios.NOW, lint_options=options
    )  # type: ignore[arg-type]

    assert result.changes == ()
    assert result.error is not None
    assert result.error.startswith(
        "not applied: mailcert's lint of the result finds a new error, cert.unparsable on postfix in "
        "/etc/postfix/main.cf:5: smtpd_tls_cert_file names /etc/letsencrypt/live/mail.example.test/fullchain.pem: "
        "the file holds no PEM data"
    )
    assert result.error.endswith("; the host was not changed")
    assert sums(tree) == before


def test_a_refused_plan_is_never_sent_to_the_host(leaf_only_with_broken_fullchain: HostTree) -> None:
    refused = plan(leaf_only_with_broken_fullchain, PKI)
    assert refused.error is not None and refused.empty

    def connect(host: InventoryHost) -> StrictConnection:
        raise AssertionError("a refused plan must not connect to the host")

    applied = apply_host(
        inventory_host(), refused, run_id="20261204T000000Z-abcdef", before=HostReport("mx1"), recheck=None,
        connect=connect,
    )  # fmt: skip
    assert applied.plan.error == refused.error and not applied.changed


def test_the_same_change_on_a_healthy_lineage_is_planned(tmp_path: Path) -> None:
    tree = HostTree(tmp_path, PKI)
    tree.edit(MAIN_CF, "/fullchain.pem", "/cert.pem")
    result = plan(tree, PKI)
    assert result.error is None
    assert [c.kind for c in result.changes] == [ChangeKind.EDIT, ChangeKind.RELOAD]
    assert refusal(LocalRoot(tree.root), result, options=OPTIONS) is None


def test_an_existing_error_the_change_does_not_touch_is_not_a_reason_to_refuse(tmp_path: Path) -> None:
    tree = HostTree(tmp_path, PKI)
    tree.write(f"/etc/letsencrypt/archive/{LINEAGE}/fullchain1.pem", "garbage\n")  # already broken for all
    text = tree.path(MAIN_CF).read_text()
    edit = Change(ChangeKind.EDIT, "comment", file=FileChange(MAIN_CF, text, text + "# note\n"))
    assert new_errors(LocalRoot(tree.root), HostPlan("mx1", (edit,)), name="mx1", options=OPTIONS) == []


def test_the_result_has_the_plans_files_new_files_and_modes(tmp_path: Path) -> None:
    tree = HostTree(tmp_path, PKI)
    key = f"/etc/letsencrypt/archive/{LINEAGE}/privkey1.pem"
    tree.write(key, tree.path(key).read_bytes(), mode=0o644)
    hook = "/etc/letsencrypt/renewal-hooks/deploy/mailcert-reload"
    changes = (
        Change(
            ChangeKind.CREATE, "hook", file=FileChange(hook, None, "#!/bin/sh\npostfix reload\n", mode=0o755)
        ),
        Change(ChangeKind.EDIT, "main.cf", file=FileChange(MAIN_CF, "x", "smtpd_tls_cert_file = /x\n")),
        Change(ChangeKind.COMMAND, "chmod", command=Command(("chmod", "600", key))),
    )
    files = result_files(LocalRoot(tree.root), HostPlan("mx1", changes))

    assert files.read_config(MAIN_CF).text == "smtpd_tls_cert_file = /x\n"
    assert files.read_config(hook).text == "#!/bin/sh\npostfix reload\n"
    assert files.stat(hook).mode == 0o755 and files.exists(hook)
    assert "mailcert-reload" in files.listdir("/etc/letsencrypt/renewal-hooks/deploy")
    assert hook in files.glob("/etc/letsencrypt/renewal-hooks/deploy/*")
    assert files.stat(key).mode == 0o600 and files.pem_file(key).mode == 0o600
    assert files.pem_file(key).keys  # the key itself is read from the host's files as before


def test_certbots_own_files_are_left_to_the_recheck(tmp_path: Path) -> None:
    """A lineage the plan issues does not exist before certbot runs: no `cert.missing` refusal for it."""
    from tests.fix_trees import without_letsencrypt

    tree = HostTree(tmp_path, PKI)
    without_letsencrypt(tree, PKI)
    result = plan(tree, PKI)
    assert result.error is None and result.changes[0].kind is ChangeKind.ISSUE
    assert refusal(LocalRoot(tree.root), result, options=OPTIONS) is None
    without_issue = HostPlan("mx1", result.changes[1:])  # the same edits with nobody issuing the lineage
    why = refusal(LocalRoot(tree.root), without_issue, options=OPTIONS)
    assert why is not None and "cert.missing" in why
