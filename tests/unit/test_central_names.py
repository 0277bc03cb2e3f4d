"""Central mode requests only names the inventory grants (issue 19): a compromised host's Dovecot
`local_name www.victim-bank.example` must never become `certbot … -d www.victim-bank.example` on the
control machine, neither in `fix` nor in `verify --renew`; such a name is listed as not requested."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from mailcert.audit.host import AuditSettings, HostAudit
from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.fix.plan.central_names import granted
from mailcert.hostfs import LocalRoot
from mailcert.inventory.model import InventoryHost
from mailcert.verify.renew_central import due_plan
from tests.fix_trees import inventory_host, lint, plan, without_letsencrypt
from tests.inventory_hosts import host_from_vars
from tests.lint_trees import HostTree
from tests.pki import NOW
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
VICTIM = "www.victim-bank.example"
SERVER = "https://10.213.0.1:14001/dir"
# The host's own configuration adds a name for the victim (what a compromised host would do).
LOCAL_NAME = f"\nlocal_name {VICTIM} {{\n  ssl_cert = </etc/ssl/certs/mail.pem\n  ssl_key = </etc/ssl/private/mail.key\n}}\n"


def _central(
    tmp_path: Path, hostnames: tuple[str, ...] = (), domains: tuple[str, ...] = (), **inventory: object
) -> InventoryHost:
    """A central-mode host the way the inventory loader builds it: `vars` holds what the inventory says."""
    variables: dict[str, object] = {
        "mailcert_acme_dns_credentials": "/etc/mailcert/rfc2136.ini",
        "mailcert_central_state_dir": str(tmp_path / "control"),
        **inventory,
    }
    if hostnames:
        variables["mailcert_hostnames"] = list(hostnames)
    host = inventory_host(
        acme_mode="central", acme_challenge="dns-rfc2136", acme_server=SERVER, vars=variables
    )
    # No names in the inventory: the planner takes them from the host's configuration (or DNS adds some).
    return replace(host, hostnames=hostnames, domains=domains)


@pytest.fixture
def hostile(tmp_path: Path) -> HostTree:
    tree = HostTree(tmp_path / "host", PKI)
    without_letsencrypt(tree, PKI)
    tree.append("/etc/dovecot/dovecot.conf", LOCAL_NAME)
    return tree


def _requested(result: HostPlan) -> list[str]:
    issue = next(c for c in result.changes if c.kind is ChangeKind.ISSUE and c.command is not None)
    assert issue.command is not None
    argv = issue.command.argv
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "-d"]


def test_a_name_only_the_host_config_adds_is_not_requested(hostile: HostTree, tmp_path: Path) -> None:
    host = _central(tmp_path, domains=("example.test",))
    result = plan(hostile, PKI, host)
    requested = _requested(result)
    assert VICTIM not in requested
    assert "mail.example.test" in requested  # under mailcert_domains: granted
    assert any("not requested in central mode: " + VICTIM in line for line in result.unfixable)


def test_without_any_grant_nothing_is_issued_and_the_plan_says_why(hostile: HostTree, tmp_path: Path) -> None:
    result = plan(hostile, PKI, _central(tmp_path))
    assert not any(c.kind is ChangeKind.ISSUE and c.command is not None for c in result.changes)
    assert not any(VICTIM in str(c.command) for c in result.changes)
    assert any(VICTIM in line and "mailcert_acme_allowed_names" in line for line in result.unfixable)


def test_names_dns_or_config_put_into_hostnames_are_not_a_grant(hostile: HostTree, tmp_path: Path) -> None:
    # mailcert_hostnames_from_dns fills host.hostnames from the config and DNS; the inventory said nothing.
    host = replace(_central(tmp_path, domains=("example.test",)), hostnames=("mail.example.test", VICTIM))
    assert VICTIM not in _requested(plan(hostile, PKI, host))


def test_an_explicit_allowed_pattern_grants_the_name(hostile: HostTree, tmp_path: Path) -> None:
    host = _central(tmp_path, domains=("example.test",))
    host = replace(host, acme_allowed_names=("*.victim-bank.example",))
    assert VICTIM in _requested(plan(hostile, PKI, host))


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("mail.example.com", True),  # mailcert_hostnames
        ("MAIL.example.com.", True),  # case and trailing dot do not matter
        ("example.org", True),  # a mailcert_domains domain itself
        ("imap.eu.example.org", True),  # and every name under it
        ("imap.example.net", True),  # *.example.net: one label
        ("a.b.example.net", False),  # not two
        ("example.net", False),  # nor none
        ("*.example.net", True),  # the pattern itself
        ("example.org.evil.test", False),
        ("evilexample.org", False),
        (VICTIM, False),
    ],
)
def test_what_the_inventory_grants(name: str, allowed: bool) -> None:
    host = host_from_vars(
        {
            "mailcert_domains": ["example.org"],
            "mailcert_acme_allowed_names": ["*.example.net"],
            "mailcert_hostnames": {"imap": ["mail.example.com"], "smtp": "smtp.example.com"},
        },
        address="192.0.2.1",
    )
    assert granted(name, host) is allowed


def test_verify_renew_does_not_request_a_name_the_host_added(tmp_path: Path) -> None:
    tree = HostTree(tmp_path / "host", PKI)
    without_letsencrypt(tree, PKI)
    tree.append(
        "/etc/dovecot/dovecot.conf",
        LOCAL_NAME.replace(
            "/etc/ssl/certs/mail.pem", "/etc/mailcert/live/mail.example.test/fullchain.pem"
        ).replace("/etc/ssl/private/mail.key", "/etc/mailcert/live/mail.example.test/privkey.pem"),
    )
    # The central certificate, issued earlier for both names, is now inside its renewal window.
    leaf = PKI.leaf(["mail.example.test", VICTIM], not_after=NOW + timedelta(days=10))
    tree.write("/etc/mailcert/live/mail.example.test/fullchain.pem", PKI.bundle(leaf))
    tree.write("/etc/mailcert/live/mail.example.test/privkey.pem", leaf.key_pem(), mode=0o600)
    host = _central(tmp_path, domains=("example.test",))
    report, model = lint(tree, PKI, [], NOW)

    class Gathered(LocalRoot):
        units: ClassVar[dict[str, object]] = {}

    audit = HostAudit(host, report, Gathered(tree.root), model)  # type: ignore[arg-type]
    renewal, target = due_plan(audit, AuditSettings(now=NOW))
    assert renewal is not None and target is not None and target.action == "renew"
    assert renewal.changes[0].command is not None
    argv = renewal.changes[0].command.argv
    names = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "-d"]
    assert VICTIM not in names and "mail.example.test" in names
