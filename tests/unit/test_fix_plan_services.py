"""Service-specific planning beyond the lint scenarios: findings only a probe makes (the wrong mode on a
Dovecot listener, a daemon serving a stale certificate), Postfix's 587 in wrapper mode, and Exim."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.fix.plan.base import PlanState
from mailcert.fix.plan.planner import plan_from
from mailcert.fix.plan.reload import reload_when_files_are_sound
from mailcert.hostfs import LocalRoot
from mailcert.model import Finding, Severity
from tests.fix_trees import apply_locally, inventory_host, lint, plan, problems, read
from tests.lint_trees import LIVE, NAMES, HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    return HostTree(tmp_path, PKI)


def plan_with_probe(tree: HostTree, *probed: Finding) -> HostPlan:
    """Plan as `fix` does after `audit`: lint's findings plus what the probe found on the wire."""
    report, model = lint(tree, PKI, NAMES)
    report = replace(report, findings=(*report.findings, *probed))
    return plan_from(LocalRoot(tree.root), model, report, inventory_host(), now=scenarios.NOW)  # type: ignore[arg-type]


def probed(check: str, service: str, port: int) -> Finding:
    return Finding(check, Severity.CRITICAL, f"{check} seen on {port}", "fix it", service=service, port=port)


def test_dovecot_imaps_speaking_plaintext_gets_ssl_yes_in_its_listener(tree: HostTree) -> None:
    tree.edit("/etc/dovecot/dovecot.conf", "    port = 993\n    ssl = yes\n", "    port = 993\n")
    result = plan_with_probe(tree, probed("config.mode-mismatch", "dovecot", 993))
    assert [c.kind for c in result.changes] == [ChangeKind.EDIT, ChangeKind.RELOAD]
    apply_locally(tree, PKI, result)
    assert "  inet_listener imaps {\n    port = 993\n    ssl = yes\n  }\n" in read(
        tree, "/etc/dovecot/dovecot.conf"
    )


def test_dovecot_imap_in_implicit_mode_gets_ssl_no(tree: HostTree) -> None:
    tree.edit("/etc/dovecot/dovecot.conf", "    port = 143\n", "    port = 143\n    ssl = yes\n")
    result = plan_with_probe(tree, probed("config.mode-mismatch", "dovecot", 143))
    apply_locally(tree, PKI, result)
    assert "  inet_listener imap {\n    port = 143\n    ssl = no\n  }\n" in read(
        tree, "/etc/dovecot/dovecot.conf"
    )


def test_stale_certificate_served_means_reload_only(tree: HostTree) -> None:
    result = plan_with_probe(tree, probed("tls.stale", "dovecot", 993))
    assert [(c.kind, c.command.argv if c.command else None) for c in result.changes] == [
        (ChangeKind.RELOAD, ("doveadm", "reload"))
    ]
    assert result.changes[0].removes == ("tls.stale dovecot:993",)
    assert [c.argv for c in result.validations] == [("doveconf", "-n")]


def test_dns_findings_are_unfixable_with_the_reason(tree: HostTree) -> None:
    result = plan_with_probe(tree, probed("dns.mx-not-covered", "postfix", 25))
    assert result.changes == ()
    assert result.unfixable == (
        "dns.mx-not-covered postfix:25: needs a DNS change (mailcert does not edit DNS)",
    )


def test_postfix_587_in_wrapper_mode_loses_the_option(tree: HostTree) -> None:
    tree.edit(
        "/etc/postfix/master.cf",
        "  -o smtpd_tls_security_level=encrypt\n",
        "  -o smtpd_tls_security_level=encrypt\n  -o smtpd_tls_wrappermode=yes\n",
    )
    result = plan(tree, PKI)
    assert result.changes[0].removes == ("config.mode-mismatch postfix:587",)
    apply_locally(tree, PKI, result)
    master = read(tree, "/etc/postfix/master.cf")
    assert master.count("smtpd_tls_wrappermode=yes") == 1  # the one of submissions (465) stays
    assert problems(lint(tree, PKI, NAMES)[0]) == set()


EXIM_CONF = """\
# cPanel-style Exim
primary_hostname = mail.example.test
daemon_smtp_ports = 25 : 465
tls_on_connect_ports = 465
tls_advertise_hosts = *
tls_certificate = /etc/ssl/certs/exim.pem
tls_privatekey = /etc/ssl/private/exim.key

begin acl
"""


def test_exim_pointed_at_the_lineage_and_given_read_access_to_its_key(tree: HostTree) -> None:
    leaf = PKI.leaf(["mx1"], self_signed=True)
    tree.write("/etc/ssl/certs/exim.pem", leaf.pem)
    tree.write("/etc/ssl/private/exim.key", leaf.key_pem(), mode=0o600)
    tree.write("/etc/exim.conf", EXIM_CONF)
    tree.write("/etc/group", "root:x:0:\nDebian-exim:x:104:\n")
    result = plan(tree, PKI)
    assert result.error is None
    edit = result.changes[0]
    assert edit.file is not None and edit.file.path == "/etc/exim.conf"
    assert edit.file.after == EXIM_CONF.replace("/etc/ssl/certs/exim.pem", f"{LIVE}/fullchain.pem").replace(
        "/etc/ssl/private/exim.key", f"{LIVE}/privkey.pem"
    )
    commands = [c.command.argv for c in result.changes if c.kind is ChangeKind.COMMAND and c.command]
    assert commands == [
        ("chgrp", "Debian-exim", "/etc/letsencrypt/live", "/etc/letsencrypt/archive"),
        ("chmod", "0750", "/etc/letsencrypt/live", "/etc/letsencrypt/archive"),
        ("chgrp", "Debian-exim", f"{LIVE}/privkey.pem"),
        ("chmod", "0640", f"{LIVE}/privkey.pem"),
    ]
    assert result.changes[-1].service == "exim" and result.changes[-1].kind is ChangeKind.RELOAD
    assert [c.argv for c in result.validations] == [("exim", "-bV")]
    apply_locally(tree, PKI, result)
    assert problems(lint(tree, PKI, NAMES)[0]) == set()
    assert plan(tree, PKI).changes == ()


@pytest.mark.parametrize("plant", [scenarios.leaf_only, scenarios.no_reload_hook, scenarios.wrappermode_typo])
def test_plan_host_on_gathered_facts_equals_the_local_plan(tree: HostTree, plant: object) -> None:
    """`fix` plans from what the gather program sent over SSH: the same plan as from the tree itself."""
    import subprocess

    from mailcert.audit.host import HostAudit
    from mailcert.audit.lint import LintOptions, lint_host_model
    from mailcert.fix.plan.planner import plan_host
    from mailcert.gather import GatheredHost, gather_argv

    plant(tree)  # type: ignore[operator]
    output = subprocess.run(
        gather_argv(str(tree.root)), capture_output=True, text=True, check=True, timeout=120
    )
    gathered = GatheredHost.from_output(output.stdout, name="mx1")
    options = LintOptions(
        checks=scenarios.CheckOptions(now=scenarios.NOW, trust=scenarios.TrustStore.of([PKI.root.cert])),
        hostnames=NAMES,
    )
    report, model = lint_host_model(gathered, name="mx1", options=options)
    host = inventory_host()
    remote = plan_host(HostAudit(host, report, gathered, model), host, now=scenarios.NOW)
    local = plan(tree, PKI, host)
    assert remote.error is None
    assert remote.changes == local.changes
    assert remote.changes


def test_host_not_gathered_plans_nothing_and_says_why() -> None:
    from mailcert.audit.host import HostAudit, unreachable
    from mailcert.fix.plan.planner import plan_host

    host = inventory_host()
    result = plan_host(HostAudit(host, unreachable("mx1", "connection refused")), host, now=scenarios.NOW)
    assert result.changes == ()
    assert result.error == "nothing planned: connection refused"


def test_dovecot_24_file_settings_get_paths_without_lt(tree: HostTree) -> None:
    tree.write(
        "/etc/dovecot/dovecot.conf",
        "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\nprotocols = imap\nssl = required\n"
        f"ssl_server_cert_file = {LIVE}/cert.pem\nssl_server_key_file = /etc/ssl/private/old.key\n",
    )
    result = plan(tree, PKI)
    assert result.changes[0].file is not None
    assert result.changes[0].file.after.endswith(
        f"ssl_server_cert_file = {LIVE}/fullchain.pem\nssl_server_key_file = {LIVE}/privkey.pem\n"
    )
    apply_locally(tree, PKI, result)
    assert problems(lint(tree, PKI, NAMES)[0]) == set()
    assert plan(tree, PKI).changes == ()


def test_inventory_names_the_lineage(tree: HostTree) -> None:
    scenarios.self_signed(tree)
    host = inventory_host(vars={"mailcert_cert_name": "mx1-mail"})
    result = plan(tree, PKI, host)
    issue = result.changes[0]
    assert issue.command is not None
    argv = issue.command.argv
    assert argv[:2] == ("certbot", "certonly") and argv[argv.index("--cert-name") + 1] == "mx1-mail"
    edited = [c.file.after for c in result.changes if c.kind is ChangeKind.EDIT and c.file]
    assert all("/etc/letsencrypt/live/mx1-mail/fullchain.pem" in text for text in edited) and len(edited) == 2


def test_what_the_probe_saw_is_removed_by_the_reload_that_serves_the_fixed_files(tree: HostTree) -> None:
    scenarios.dovecot_missing_lt(tree)
    handshake = probed("tls.handshake-failed", "dovecot", 993)
    result = plan_with_probe(tree, handshake, probed("tls.handshake-failed", "postfix", 465))
    reloads = {c.service: c.removes for c in result.changes if c.kind is ChangeKind.RELOAD}
    assert reloads["dovecot"] == ("tls.handshake-failed dovecot:993",)
    # Postfix's files are sound (lint finds nothing in them): a reload serves them, so it gets one too
    # (test_daemons_whose_tls_broke_on_files_that_are_sound_now_are_reloaded)
    assert reloads["postfix"] == ("tls.handshake-failed postfix:465",)
    assert result.unfixable == ()


def test_a_config_changed_since_the_audit_is_a_plan_error_not_a_traceback(tree: HostTree) -> None:
    scenarios.dovecot_missing_lt(tree)
    report, model = lint(tree, PKI, NAMES)
    tree.write("/etc/dovecot/dovecot.conf", "# emptied by someone else\n")
    result = plan_from(LocalRoot(tree.root), model, report, inventory_host(), now=scenarios.NOW)  # type: ignore[arg-type]
    assert result.changes == ()
    assert result.error == (
        "mx1: /etc/dovecot/dovecot.conf has no line 3: the file changed since the audit — run the audit (and fix) again"
    )


def test_master_cf_override_repointed_in_place(tree: HostTree) -> None:
    leaf = PKI.leaf(["mx1"], self_signed=True)
    tree.write("/etc/ssl/certs/sub.pem", leaf.pem)
    tree.write("/etc/ssl/private/sub.key", leaf.key_pem(), mode=0o600)
    tree.edit(
        "/etc/postfix/master.cf",
        "  -o smtpd_tls_security_level=encrypt\n",
        "  -o smtpd_tls_security_level=encrypt\n  -o smtpd_tls_cert_file=/etc/ssl/certs/sub.pem\n"
        "  -o smtpd_tls_key_file=/etc/ssl/private/sub.key\n",
    )
    result = plan(tree, PKI)
    assert [c.file.path for c in result.changes if c.file] == ["/etc/postfix/master.cf"]
    apply_locally(tree, PKI, result)
    master = read(tree, "/etc/postfix/master.cf")
    assert (
        f"  -o smtpd_tls_cert_file={LIVE}/fullchain.pem\n  -o smtpd_tls_key_file={LIVE}/privkey.pem\n"
        in master
    )
    assert problems(lint(tree, PKI, NAMES)[0]) == set()
    assert plan(tree, PKI).changes == ()


def test_a_hostile_name_in_a_certificate_never_reaches_certbot_or_a_config(tree: HostTree) -> None:
    """A lineage whose certificate carries a SAN with a newline: expanding it would pass that name on."""
    tree.lineage(
        "mail.example.test", PKI.leaf(["mail.example.test", "x.test\nsmtpd_tls_security_level = none"]), 2
    )
    result = plan(tree, PKI, inventory_host([*NAMES, "webmail.example.test"]))
    assert result.changes == ()
    assert result.error is not None and "refusing to write" in result.error and "\\n" in result.error


@pytest.mark.parametrize("table_type", ["texthash", "hash"])
def test_postfix_sni_entry_repointed_key_first(tree: HostTree, table_type: str) -> None:
    leaf = PKI.leaf(["imap.example.test"], self_signed=True)
    tree.write("/etc/ssl/private/imap.pem", leaf.key_pem() + leaf.pem, mode=0o600)
    tree.write("/etc/postfix/sni", "# SNI\nsmtp.example.test   /etc/ssl/private/imap.pem\n")
    tree.append("/etc/postfix/main.cf", f"tls_server_sni_maps = {table_type}:/etc/postfix/sni\n")
    result = plan(tree, PKI)
    [edit] = [c for c in result.changes if c.kind is ChangeKind.EDIT]
    assert edit.file is not None and edit.file.after == (
        f"# SNI\nsmtp.example.test   {LIVE}/privkey.pem,{LIVE}/fullchain.pem\n"
    )
    # the lineage now feeds an indexed SNI table: renewals must rebuild it, so the hook comes along
    hooks = [c for c in result.changes if c.kind is ChangeKind.CREATE]
    assert len(hooks) == (1 if table_type == "hash" else 0)
    postmaps = [c.command.argv for c in result.changes if c.kind is ChangeKind.COMMAND and c.command]
    assert postmaps == ([("postmap", "-F", "hash:/etc/postfix/sni")] if table_type == "hash" else [])
    assert result.changes[-1].kind is ChangeKind.RELOAD and result.changes[-1].service == "postfix"
    if table_type == "texthash":  # read as text by Postfix: nothing to build, so the tree can be re-checked
        apply_locally(tree, PKI, result)
        # renewal.no-reload-hook asks for `postmap -F` of every SNI table, but postmap refuses texthash
        # ("unsupported dictionary type: texthash does not support bulk-mode creation", checked by hand)
        assert problems(lint(tree, PKI, NAMES)[0]) <= {("renewal.no-reload-hook", None)}
        assert plan(tree, PKI).changes == ()


def _probed_anywhere(check: str, service: str) -> Finding:
    return Finding(check, Severity.CRITICAL, f"{check} seen", "read the log", service=service)


def test_daemons_whose_tls_broke_on_files_that_are_sound_now_are_reloaded(tree: HostTree) -> None:
    # found by tests/lab/test_fix_compound.py (key-mismatch+stale): the daemons loaded a mismatched key, then
    # certbot put a sound lineage in place without a reload; lint finds nothing, Postfix still answers 454 and
    # Dovecot's handshake fails, and fix said "nothing to do"
    starttls = _probed_anywhere("tls.starttls-unavailable", "postfix")
    smtps = probed("tls.handshake-failed", "postfix", 465)
    imaps = _probed_anywhere("tls.handshake-failed", "dovecot")
    result = plan_with_probe(tree, starttls, smtps, imaps)
    assert [(c.kind, c.service, c.removes) for c in result.changes] == [
        (
            ChangeKind.RELOAD,
            "postfix",
            ("tls.starttls-unavailable postfix", "tls.handshake-failed postfix:465"),
        ),
        (ChangeKind.RELOAD, "dovecot", ("tls.handshake-failed dovecot",)),
    ]
    assert result.unfixable == ()


class _Planned:
    """What reload_when_files_are_sound reads and writes of a plan: the problems, what is covered, reloads."""

    def __init__(self, *findings: Finding) -> None:
        self.findings = list(findings)
        self.covered: set[Finding] = set()
        self.reload: dict[str, list[Finding]] = {}

    def problems(self) -> list[Finding]:
        return self.findings

    def reload_service(self, service: str, removes: list[Finding]) -> None:
        self.covered.update(removes)
        self.reload.setdefault(service, []).extend(removes)


def test_no_reload_for_a_broken_handshake_while_the_service_files_still_have_a_problem() -> None:
    starttls = _probed_anywhere("tls.starttls-unavailable", "postfix")
    in_file = Finding(
        "key.mismatch", Severity.CRITICAL, "key does not match", "fix the key", service="postfix",
        file="/etc/ssl/private/mail.key",
    )  # fmt: skip
    on_dovecot = _probed_anywhere("tls.handshake-failed", "dovecot")
    planned = _Planned(starttls, in_file, on_dovecot)
    reload_when_files_are_sound(cast(PlanState, planned), "postfix")
    reload_when_files_are_sound(cast(PlanState, planned), "dovecot")
    assert planned.reload == {"dovecot": [on_dovecot]}  # Postfix would load the mismatched key again
    covered = _Planned(on_dovecot)
    covered.covered.add(on_dovecot)  # already removed by another change of the plan
    reload_when_files_are_sound(cast(PlanState, covered), "dovecot")
    assert covered.reload == {}


def dovecot_24(tree: HostTree, cert_value: str) -> None:
    """The healthy tree's Dovecot as a 2.4 config (checked against Debian 13's doveconf 2.4.1: `-n` prints the
    certificate as `ssl_server { cert_file = … }`), with `cert_value` for ssl_server_cert_file."""
    tree.edit(
        "/etc/dovecot/dovecot.conf",
        "protocols = imap pop3\n",
        "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\nprotocols = imap pop3\n",
    )
    tree.edit(
        "/etc/dovecot/dovecot.conf",
        f"ssl_cert = <{LIVE}/fullchain.pem",
        f"ssl_server_cert_file = {cert_value}",
    )
    tree.edit(
        "/etc/dovecot/dovecot.conf",
        f"ssl_key = <{LIVE}/privkey.pem",
        f"ssl_server_key_file = {LIVE}/privkey.pem",
    )
    tree.edit("/etc/dovecot/dovecot.conf", "disable_plaintext_auth = yes\n", "auth_allow_cleartext = no\n")


def test_dovecot_24_file_setting_with_lt_gets_the_lt_removed_and_nothing_else(tree: HostTree) -> None:
    dovecot_24(tree, f"<{LIVE}/fullchain.pem")
    assert problems(lint(tree, PKI, NAMES)[0]) == {("config.syntax", "dovecot")}
    result = plan(tree, PKI)
    edits = [c for c in result.changes if c.kind is ChangeKind.EDIT]
    assert [(c.file.path if c.file else None, c.removes) for c in edits] == [
        ("/etc/dovecot/dovecot.conf", ("config.syntax dovecot",))
    ]
    assert edits[0].file is not None
    before = read(tree, "/etc/dovecot/dovecot.conf").splitlines()
    after = edits[0].file.after.splitlines()
    assert [(b, a) for b, a in zip(before, after, strict=True) if b != a] == [
        (f"ssl_server_cert_file = <{LIVE}/fullchain.pem", f"ssl_server_cert_file = {LIVE}/fullchain.pem")
    ]
    apply_locally(tree, PKI, result)
    assert problems(lint(tree, PKI, NAMES)[0]) == set()


def test_dovecot_24_never_gets_a_lt_or_a_23_name_from_fix(tree: HostTree) -> None:
    dovecot_24(tree, f"{LIVE}/cert.pem")  # leaf only: fix repoints it at the full chain
    result = plan(tree, PKI)
    (edit,) = [c for c in result.changes if c.file and c.file.path == "/etc/dovecot/dovecot.conf"]
    assert edit.file is not None
    assert f"ssl_server_cert_file = {LIVE}/fullchain.pem\n" in edit.file.after
    assert "ssl_cert" not in edit.file.after and "= <" not in edit.file.after
