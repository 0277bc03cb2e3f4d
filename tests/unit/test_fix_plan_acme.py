"""Certificates in the plan: a host without certbot gets one lineage covering all its names (the certbot
command decided from the inventory), a host with a lineage missing names gets it expanded, and nothing is
issued without an ACME contact or from a hostile name."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcert.fix.model import ChangeKind
from tests.fix_trees import (
    EMAIL,
    apply_locally,
    inventory_host,
    lint,
    plan,
    problems,
    read,
    without_letsencrypt,
)
from tests.lint_trees import NAMES, HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
LIVE = "/etc/letsencrypt/live/mail.example.test"
STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"


@pytest.fixture
def bare(tmp_path: Path) -> HostTree:
    tree = HostTree(tmp_path, PKI)
    without_letsencrypt(tree, PKI)
    return tree


def test_host_without_certbot_gets_one_lineage_for_all_names_and_services_pointed_at_it(
    bare: HostTree,
) -> None:
    host = inventory_host(
        acme_server="letsencrypt-staging",
        acme_challenge="webroot",
        acme_webroot="/var/www/html",
        acme_ca_bundle="/etc/ssl/acme-ca.pem",
    )
    result = plan(bare, PKI, host)
    assert result.error is None
    issue = result.changes[0]
    assert issue.kind is ChangeKind.ISSUE and issue.command is not None
    assert issue.command.argv == (
        "certbot", "certonly", "--non-interactive", "--agree-tos", "--cert-name", "mail.example.test",
        "-d", "mail.example.test", "-d", "smtp.example.test", "-d", "imap.example.test", "-d", "pop.example.test",
        "--server", STAGING, "--email", EMAIL, "--webroot", "-w", "/var/www/html",
    )  # fmt: skip
    assert issue.command.env == (("REQUESTS_CA_BUNDLE", "/etc/ssl/acme-ca.pem"),)
    edited = {c.file.path: c.file.after for c in result.changes if c.kind is ChangeKind.EDIT and c.file}
    assert (
        f"smtpd_tls_cert_file = {LIVE}/fullchain.pem\nsmtpd_tls_key_file = {LIVE}/privkey.pem\n"
        in edited["/etc/postfix/main.cf"]
    )
    assert (
        f"ssl_cert = <{LIVE}/fullchain.pem\nssl_key = <{LIVE}/privkey.pem\n"
        in edited["/etc/dovecot/dovecot.conf"]
    )
    hook = next(c for c in result.changes if c.kind is ChangeKind.CREATE)
    assert hook.file is not None and hook.file.mode == 0o755
    assert [c.command.argv for c in result.changes if c.kind is ChangeKind.RELOAD and c.command] == [
        ("postfix", "reload"),
        ("doveadm", "reload"),
    ]
    # after certbot ran and the files were written, a second run has nothing to do
    apply_locally(bare, PKI, result)
    assert problems(lint(bare, PKI, NAMES)[0]) == set()
    assert plan(bare, PKI, host).changes == ()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, ["--server", "https://acme-v02.api.letsencrypt.org/directory", "--email", EMAIL, "--standalone"]),
        (
            {"acme_server": "https://127.0.0.1:14000/dir", "acme_challenge": "dns-rfc2136"},
            ["--server", "https://127.0.0.1:14000/dir", "--email", EMAIL, "--dns-rfc2136"],
        ),
        ({"reuse_key": True}, ["--server", "https://acme-v02.api.letsencrypt.org/directory", "--email", EMAIL,
                               "--standalone", "--reuse-key"]),
    ],
)  # fmt: skip
def test_certbot_options_from_the_inventory(
    bare: HostTree, settings: dict[str, object], expected: list[str]
) -> None:
    result = plan(bare, PKI, inventory_host(**settings))
    argv = result.changes[0].command.argv if result.changes[0].command else ()
    assert list(argv[argv.index("--server") :]) == expected


def test_lineage_missing_a_name_is_expanded_in_place(
    tree_with_extra_name: tuple[HostTree, list[str]],
) -> None:
    tree, names = tree_with_extra_name
    result = plan(tree, PKI, inventory_host(names))
    assert [c.kind for c in result.changes] == [ChangeKind.ISSUE, ChangeKind.RELOAD, ChangeKind.RELOAD]
    argv = result.changes[0].command.argv if result.changes[0].command else ()
    assert argv[argv.index("--cert-name") + 1] == "mail.example.test"
    assert [argv[i + 1] for i, w in enumerate(argv) if w == "-d"] == names
    assert argv[-1] == "--expand"


@pytest.fixture
def tree_with_extra_name(tmp_path: Path) -> tuple[HostTree, list[str]]:
    return HostTree(tmp_path, PKI), [*NAMES, "webmail.example.test"]


def test_no_acme_email_means_nothing_issued_and_says_why(bare: HostTree) -> None:
    result = plan(bare, PKI, inventory_host(acme_email=None))
    assert result.changes == ()
    assert any("mailcert_acme_email is not set" in reason for reason in result.unfixable)
    assert all(
        not reason.startswith("cert.self-signed") or "mailcert_acme_email" in reason
        for reason in result.unfixable
    )


def test_webroot_without_a_path_issues_nothing(bare: HostTree) -> None:
    result = plan(bare, PKI, inventory_host(acme_challenge="webroot"))
    assert result.changes == ()
    assert any("mailcert_acme_webroot is not set" in reason for reason in result.unfixable)


@pytest.mark.parametrize(
    "hostile",
    [
        {"names": ["mail.example.test\nsmtpd_tls_security_level = none"]},
        {"names": ["mail.example.test", "x.example.test -d evil.test"]},
        {"acme_webroot": "/var/www\n/evil", "acme_challenge": "webroot"},
        {"acme_server": "https://acme.test/dir\n--foo"},
        {"acme_email": "a@b.test\n--server=https://evil"},
    ],
)
def test_hostile_values_stop_the_plan_with_an_error(bare: HostTree, hostile: dict[str, object]) -> None:
    names = hostile.pop("names", None)
    result = plan(bare, PKI, inventory_host(names, **hostile))  # type: ignore[arg-type]
    assert result.changes == ()
    assert result.error is not None and "refusing to write" in result.error
    assert "\n" not in result.error
    assert read(bare, "/etc/postfix/main.cf").count("smtpd_tls_security_level") == 1
