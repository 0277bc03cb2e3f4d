"""The planner on the lint scenario trees: what each fault's plan does (decided by hand from the fault), and
that applying the plan to the tree leaves nothing to plan (idempotence), with the planted finding gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mailcert.fix.model import ChangeKind, HostPlan
from tests.fix_trees import apply_locally, inventory_host, lint, plan, problems
from tests.lint_trees import LIVE, NAMES, HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
MAIN_CF = "/etc/postfix/main.cf"
MASTER_CF = "/etc/postfix/master.cf"
DOVECOT_CONF = "/etc/dovecot/dovecot.conf"
HOOK = "/etc/letsencrypt/renewal-hooks/deploy/mailcert-reload"
RENEW = (
    "certbot",
    "renew",
    "--cert-name",
    "mail.example.test",
    "--force-renewal",
    "--no-random-sleep-on-renew",
    # the lineage's ACME account may not be on this host: renewing non-interactively must be able to register
    "--agree-tos",
    "--email",
    "postmaster@example.test",
)


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    return HostTree(tmp_path, PKI)


def steps(host_plan: HostPlan) -> list[tuple[str, str]]:
    """(kind, file path or command) of each change, in plan order."""
    out = []
    for change in host_plan.changes:
        if change.file is not None:
            out.append((change.kind.value, change.file.path))
        else:
            assert change.command is not None
            out.append((change.kind.value, " ".join(change.command.argv)))
    return out


def test_healthy_host_plans_nothing(tree: HostTree) -> None:
    result = plan(tree, PKI)
    assert result.error is None
    assert result.changes == ()
    assert result.unfixable == ()
    assert result.validations == ()


# scenario → the plan's steps, decided from what the fault is
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "1 leaf-only cert.pem": [("edit", MAIN_CF), ("reload", "postfix reload")],
    "3 reversed combined file": [("edit", MAIN_CF), ("reload", "postfix reload")],
    "6 trailing comment": [("edit", MAIN_CF), ("reload", "postfix reload")],
    "7 indented parameter": [("edit", MAIN_CF), ("reload", "postfix reload")],
    "8 duplicate definition": [("edit", MAIN_CF), ("reload", "postfix reload")],
    "9 wrappermode typo": [("edit", MASTER_CF), ("reload", "postfix reload")],
    "13 SNI map not rebuilt": [
        ("create", HOOK),
        ("command", "postmap -F hash:/etc/postfix/sni"),
        ("reload", "postfix reload"),
    ],
    "17 dovecot missing <": [("edit", DOVECOT_CONF), ("reload", "doveadm reload")],
    "18 dovecot cert and key swapped": [("edit", DOVECOT_CONF), ("reload", "doveadm reload")],
    "19 dovecot key from another lineage": [("edit", DOVECOT_CONF), ("reload", "doveadm reload")],
    "24 dovecot without snakeoil": [("edit", DOVECOT_CONF), ("reload", "doveadm reload")],
    "25 dovecot ssl = no": [("edit", DOVECOT_CONF), ("reload", "doveadm reload")],
    "36a expired": [("issue", " ".join(RENEW)), ("reload", "postfix reload"), ("reload", "doveadm reload")],
    "36b expiring": [("issue", " ".join(RENEW)), ("reload", "postfix reload"), ("reload", "doveadm reload")],
    "self-signed": [("issue", " ".join(RENEW)), ("reload", "postfix reload"), ("reload", "doveadm reload")],
    "key does not match": [
        ("issue", " ".join(RENEW)),
        ("reload", "postfix reload"),
        ("reload", "doveadm reload"),
    ],
    "key readable by everyone": [("command", f"chmod 600 {LIVE}/privkey.pem")],
    "15 no reload hook": [("create", HOOK)],
    "archive path": [("edit", MAIN_CF), ("reload", "postfix reload")],
}


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_plan_steps(tree: HostTree, scenario: str) -> None:
    plant: Callable[[HostTree], object] = scenarios.SCENARIOS[scenario][0]
    plant(tree)
    result = plan(tree, PKI)
    assert result.error is None
    assert steps(result) == EXPECTED[scenario]


# Scenarios whose fix needs a daemon (postmap of a real table) cannot be applied to a local tree.
NOT_LOCAL = {"13 SNI map not rebuilt"}
# Findings that stay by design after the fix (each a warning that needs a person's decision).
STAYS = {
    "20 intermediate in ssl_ca": {("config.dovecot-ssl-ca-misuse", "dovecot")},
}


@pytest.mark.parametrize("scenario", [s for s in scenarios.SCENARIOS if s not in NOT_LOCAL])
def test_applied_plan_leaves_nothing_to_plan(tree: HostTree, scenario: str) -> None:
    plant, planted_checks = scenarios.SCENARIOS[scenario]
    planted = set(planted_checks)
    names = NAMES + (plant(tree) or [])
    host = inventory_host(names)
    first = plan(tree, PKI, host)
    assert first.error is None
    before = problems(lint(tree, PKI, names)[0])
    apply_locally(tree, PKI, first)
    after = problems(lint(tree, PKI, names)[0])
    removed = {(label.split()[0], _service(label)) for c in first.changes for label in c.removes}
    assert not removed & after, f"still there after the fix: {removed & after}"
    if first.changes:
        assert after < before or not before
    second = plan(tree, PKI, host)
    assert second.error is None
    assert second.changes == (), f"second run plans {steps(second)}"
    # whatever is left is listed as unfixable, with a reason
    assert {
        (u.split(": ", 1)[0].split()[0], _service(u.split(": ", 1)[0])) for u in second.unfixable
    } == after
    if scenario in FIXED:
        assert not {check for check, _ in after} & planted, f"{scenario}: the planted fault is still there"


# Scenarios whose planted fault the plan removes completely (the others need a person: see unfixable).
FIXED = {
    "1 leaf-only cert.pem", "2 leaf-only masked by smtpd_tls_CAfile", "3 reversed combined file", "6 trailing comment",
    "7 indented parameter", "8 duplicate definition", "9 wrappermode typo", "17 dovecot missing <",
    "18 dovecot cert and key swapped", "19 dovecot key from another lineage", "24 dovecot without snakeoil",
    "25 dovecot ssl = no", "33 wildcard too deep", "34 client-only EKU", "35 CN-only certificate", "36a expired",
    "36b expiring", "self-signed", "weak key", "42 encrypted key", "key readable by everyone", "key does not match",
    "15 no reload hook", "archive path",
}  # fmt: skip


def _service(label: str) -> str | None:
    parts = label.split()
    return parts[1].split(":")[0] if len(parts) > 1 else None


def test_every_remaining_problem_is_listed_as_unfixable_with_its_reason(tree: HostTree) -> None:
    scenarios.old_tls_only(tree)
    result = plan(tree, PKI)
    assert result.changes == ()
    assert len(result.unfixable) == 2
    assert all(u.startswith("config.legacy-protocols postfix") for u in result.unfixable)
    assert any("smtpd_tls_protocols = >=TLSv1.2" in u for u in result.unfixable)


def test_plan_order_issue_edits_commands_reloads(tree: HostTree) -> None:
    scenarios.leaf_only(tree)
    scenarios.no_reload_hook(tree)
    scenarios.expiring(tree)  # version 2 of the lineage
    tree.path("/etc/letsencrypt/archive/mail.example.test/privkey2.pem").chmod(0o644)
    result = plan(tree, PKI)
    kinds = [c.kind for c in result.changes]
    order = [ChangeKind.ISSUE, ChangeKind.EDIT, ChangeKind.CREATE, ChangeKind.COMMAND, ChangeKind.RELOAD]
    ranks = [
        0 if k is ChangeKind.ISSUE else 1 if k in (ChangeKind.EDIT, ChangeKind.CREATE) else order.index(k)
        for k in kinds
    ]
    assert ranks == sorted(ranks)
    assert {
        ChangeKind.ISSUE,
        ChangeKind.EDIT,
        ChangeKind.CREATE,
        ChangeKind.COMMAND,
        ChangeKind.RELOAD,
    } <= set(kinds)
    assert sorted(c.argv for c in result.validations) == [
        ("doveconf", "-n"),
        ("postfix", "check"),
        ("sh", "-c", "postconf >/dev/null"),  # roles/postfix/role.yml's second check
        ("sh", "-n", "/etc/letsencrypt/renewal-hooks/deploy/mailcert-reload"),  # the new hook parses
    ]


def test_systemd_host_reloads_through_systemctl(tree: HostTree) -> None:
    tree.path("/run/systemd/system").mkdir(parents=True)
    scenarios.dovecot_missing_lt(tree)
    result = plan(tree, PKI)
    assert steps(result)[-1] == ("reload", "systemctl reload dovecot")


def test_each_change_says_what_it_removes(tree: HostTree) -> None:
    scenarios.wrappermode_typo(tree)
    result = plan(tree, PKI)
    edit = result.changes[0]
    assert set(edit.removes) == {"config.mode-mismatch postfix:465", "config.syntax postfix"}
    assert edit.file is not None
    assert "-  -o smtpd_tls_wrapermode=yes\n+  -o smtpd_tls_wrappermode=yes\n" in edit.file.diff
