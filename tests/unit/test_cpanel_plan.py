"""fix's plan for a cPanel host (hand-built trees): every step goes through cPanel's interfaces (whmapi1,
/scripts/restartsrv_*), never a file edit; a healthy cPanel tree plans nothing; values are quoted."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions, lint_host_model
from mailcert.checks.certs import CheckOptions
from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.fix.plan.planner import plan_from
from mailcert.hostfs import LocalRoot
from mailcert.pki.trust import TrustStore
from tests.fix_trees import inventory_host
from tests.pki import NOW
from tests.unit.test_cpanel_role import ALPHA, BETA, HOSTNAME, PKI, CpanelTree

NAMES = [HOSTNAME, f"mail.{ALPHA}", f"mail.{BETA}"]


def plan(tree: CpanelTree) -> HostPlan:
    opts = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([PKI.root.cert])), hostnames=NAMES)
    report, model = lint_host_model(LocalRoot(tree.root), name="mx1", options=opts)
    return plan_from(LocalRoot(tree.root), model, report, inventory_host(NAMES), now=NOW, lint_options=opts)


def calls(host_plan: HostPlan) -> list[list[str]]:
    """The API calls of the plan's cPanel step (the lines after the step's functions)."""
    steps = [c for c in host_plan.changes if c.kind is ChangeKind.COMMAND]
    assert len(steps) == 1 and steps[0].command is not None
    script = steps[0].command.argv[2]
    return [shlex.split(line) for line in script.split("\nfinish() { exit 0; }\n", 1)[1].splitlines() if line]


@pytest.fixture
def tree(tmp_path: Path) -> CpanelTree:
    return CpanelTree(tmp_path)


def test_healthy_cpanel_tree_plans_nothing(tree: CpanelTree) -> None:
    result = plan(tree)
    assert (result.error, result.changes) == (None, ())


def test_hostname_only_service_certificate_is_reinstalled_through_whmapi1(tree: CpanelTree) -> None:
    tree.service([HOSTNAME])
    result = plan(tree)
    assert result.error is None
    kinds = [c.kind for c in result.changes]
    # no EDIT: cPanel's files are not touched; the one new file is certbot's deploy hook
    assert kinds == [ChangeKind.ISSUE, ChangeKind.CREATE, ChangeKind.COMMAND]
    issue = result.changes[0].command
    assert issue is not None
    assert issue.argv[:2] == ("certbot", "certonly")
    assert [issue.argv[i + 1] for i, a in enumerate(issue.argv) if a == "-d"] == [HOSTNAME, f"mail.{BETA}"]
    live = f"/etc/letsencrypt/live/{HOSTNAME}"
    assert calls(result) == [
        [
            "install",
            "dovecot",
            live,
            "/var/cpanel/ssl/dovecot/mydovecot.crt",
            "/var/cpanel/ssl/dovecot/mydovecot.key",
        ],
        ["install", "exim", live, "/var/cpanel/ssl/exim/myexim.crt", "/var/cpanel/ssl/exim/myexim.key"],
        ["finish"],
    ]
    assert "cpanel.service-cert-names" in " ".join(result.changes[2].removes)


def test_the_lineage_installed_into_cpanel_gets_a_deploy_hook_that_installs_renewals_again(
    tree: CpanelTree,
) -> None:
    tree.service([HOSTNAME])
    hook = plan(tree).changes[1].file
    assert hook is not None and hook.before is None and hook.mode == 0o755
    assert hook.path == "/etc/letsencrypt/renewal-hooks/deploy/mailcert-cpanel"
    live = f"/etc/letsencrypt/live/{HOSTNAME}"
    text = hook.after
    assert f'[ "$lineage" = {live} ] || exit 0' in text  # other lineages' renewals leave cPanel alone
    for service, crt, read_as in (
        ("dovecot", "dovecot/mydovecot.crt", "/etc/dovecot/ssl/dovecot.crt"),
        ("exim", "exim/myexim.crt", "/etc/myexim.crt"),
    ):
        assert f"install_service_ssl_certificate service={service} " in text
        # the paths the daemons read: what renewal.unmanaged-path looks for in a hook
        assert f"keeps /var/cpanel/ssl/{crt} current (read as {read_as})" in text
    assert (
        f"{live}/cert.pem {live}/privkey.pem {live}/chain.pem" in text
    )  # what it sends: tests/unit/test_cpanel_api_sh.py
    # once written, the same plan does not write it again
    target = tree.root / hook.path.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_text(hook.after)
    target.chmod(0o755)
    assert [c.kind for c in plan(tree).changes] == [ChangeKind.ISSUE, ChangeKind.COMMAND]


def test_stale_sni_conf_is_rebuilt_through_whmapi1(tree: CpanelTree) -> None:
    tree.domain([BETA, f"mail.{BETA}"])
    assert calls(plan(tree)) == [["rebuild"], ["finish"]]


def test_expired_domain_certificate_runs_autossl_for_its_owner(tree: CpanelTree) -> None:
    from datetime import timedelta

    tree.domain(
        [ALPHA, f"mail.{ALPHA}"], not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=10)
    )
    tree.rebuild_sni()
    result = plan(tree)
    assert [c.kind for c in result.changes] == [ChangeKind.COMMAND]
    assert calls(result) == [["autossl", "alpha"], ["rebuild"], ["finish"]]
