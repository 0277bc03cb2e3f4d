"""Renewal checks on certbot trees laid out as certbot lays them out (scenarios 13, 15, 16 of the reference)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from mailcert.checks.renewal import CertUse, cert_uses, check_renewal, renewal_findings
from mailcert.hostfs import LocalRoot
from mailcert.model import Finding, Mode, Severity
from mailcert.services.certbot.parser import read_certbot
from mailcert.services.model import CertSource, Listener, Location, ServiceConfig, SniCert
from mailcert.services.registry import detect_roles, parser_for
from tests.data.certbot.tree import LE, CertbotTree, days
from tests.pki import END, NOW, START, Issued, TestPKI

NAME = "mail.example.test"
LIVE = f"{LE}/live/{NAME}"
MAIN_CF = Location("/etc/postfix/main.cf", 12)
SSL_CONF = Location("/etc/dovecot/conf.d/10-ssl.conf", 6)


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI("Renewal")


@pytest.fixture
def tree(tmp_path: Path, pki: TestPKI) -> CertbotTree:
    tree = CertbotTree(tmp_path, pki)
    tree.install_certbot("2.1.0")
    tree.debian_schedule()
    return tree


def postfix(
    cert: str = f"{LIVE}/fullchain.pem", key: str | None = f"{LIVE}/privkey.pem", leaf: Issued | None = None
) -> list[CertUse]:
    der = leaf.cert.public_bytes(Encoding.DER) if leaf else None
    return [
        CertUse("postfix", port, cert, key, "smtpd_tls_cert_file", MAIN_CF, leaf_der=der)
        for port in (25, 587)
    ]


def dovecot(cert: str = f"{LIVE}/fullchain.pem", key: str | None = f"{LIVE}/privkey.pem") -> list[CertUse]:
    return [CertUse("dovecot", port, cert, key, "ssl_cert", SSL_CONF) for port in (993, 995)]


def run(tree: CertbotTree, uses: list[CertUse]) -> list[Finding]:
    return check_renewal(read_certbot(tree.files), uses, NOW)


def only(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


# -- a healthy host --------------------------------------------------------------------------------------------


def test_healthy_host_has_no_renewal_findings(tree: CertbotTree) -> None:
    tree.lineage(NAME, params={"renew_hook": "systemctl reload postfix dovecot"})
    assert run(tree, postfix() + dovecot()) == []


# -- renewal.no-reload-hook (scenario 15) -------------------------------------------------------------------


def test_no_hook_at_all_names_both_services(tree: CertbotTree) -> None:
    tree.lineage(NAME)
    (finding,) = only(run(tree, postfix() + dovecot()), "renewal.no-reload-hook")
    assert finding.severity is Severity.CRITICAL
    assert "postfix" in finding.message and "dovecot" in finding.message
    assert finding.file == f"{LE}/renewal/{NAME}.conf"
    # Debian's certbot 2.1 has no `certbot reconfigure`: a deploy hook file, with its exact content
    assert f"{LE}/renewal-hooks/deploy/mailcert-reload" in finding.fix
    assert "systemctl reload postfix dovecot" in finding.fix
    assert "chmod 0755" in finding.fix


def test_renew_hook_that_misses_dovecot_names_dovecot(tree: CertbotTree) -> None:
    tree.lineage(NAME, params={"renew_hook": "postfix reload"})
    (finding,) = only(run(tree, postfix() + dovecot()), "renewal.no-reload-hook")
    assert "reloads dovecot" in finding.message and "postfix" not in finding.message.split("reloads")[1]
    assert finding.service == "dovecot"


def test_certbot_2_3_gets_a_reconfigure_command(tree: CertbotTree) -> None:
    tree.install_certbot("2.11.0")
    tree.lineage(NAME, version="2.11.0")
    (finding,) = only(run(tree, postfix() + dovecot()), "renewal.no-reload-hook")
    assert (
        finding.fix
        == f"`certbot reconfigure --cert-name {NAME} --deploy-hook 'systemctl reload postfix dovecot'`"
    )


def test_deploy_hook_directory_counts(tree: CertbotTree) -> None:
    tree.lineage(NAME)
    tree.hook("deploy", "reload-mail", "#!/bin/sh\nsystemctl reload postfix\n/usr/bin/doveadm reload\n")
    assert only(run(tree, postfix() + dovecot()), "renewal.no-reload-hook") == []


def test_post_hook_reloading_counts(tree: CertbotTree) -> None:
    tree.lineage(NAME, params={"post_hook": "systemctl restart postfix dovecot"})
    assert only(run(tree, postfix() + dovecot()), "renewal.no-reload-hook") == []


def test_pre_hook_does_not_count(tree: CertbotTree) -> None:
    tree.lineage(NAME, params={"pre_hook": "systemctl reload postfix dovecot"})
    assert len(only(run(tree, postfix() + dovecot()), "renewal.no-reload-hook")) == 1


def test_non_executable_hook_is_named_and_fixed_with_chmod(tree: CertbotTree) -> None:
    tree.lineage(NAME)
    path = tree.hook("deploy", "reload-mail", "#!/bin/sh\nsystemctl reload postfix dovecot\n", mode=0o644)
    (finding,) = only(run(tree, postfix() + dovecot()), "renewal.no-reload-hook")
    assert path in finding.message and "0644" in finding.message
    assert finding.fix == f"make the hook executable: `chmod 0755 {path}`"


def test_exim_needs_no_reload_hook(tree: CertbotTree) -> None:
    tree.lineage(NAME)
    exim = [CertUse("exim", 25, f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem", "tls_certificate")]
    assert only(run(tree, exim), "renewal.no-reload-hook") == []


def test_postfix_sni_table_needs_postmap_f(tree: CertbotTree) -> None:
    """Scenario 13: the SNI table embeds the PEM, so a renewal must rebuild it."""
    tree.lineage(NAME, params={"renew_hook": "systemctl reload postfix"})
    use = CertUse(
        "postfix", 25, f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem", "tls_server_sni_maps", MAIN_CF
    )
    sni = [replace(use, rebuilt_by="postmap -F hash:/etc/postfix/sni")]
    (finding,) = only(run(tree, sni), "renewal.no-reload-hook")
    assert "postmap -F" in finding.message
    assert "postmap -F $(postconf -xh tls_server_sni_maps" in finding.fix


def test_texthash_sni_table_needs_no_postmap(tree: CertbotTree) -> None:
    """texthash/inline tables are read as they are (postmap refuses to build them): a reload is enough."""
    tree.lineage(NAME, params={"renew_hook": "systemctl reload postfix"})
    sni = [
        CertUse("postfix", 25, f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem", "tls_server_sni_maps", MAIN_CF)
    ]
    assert only(run(tree, sni), "renewal.no-reload-hook") == []


def test_unused_lineage_needs_no_hook(tree: CertbotTree) -> None:
    tree.lineage(NAME)
    assert run(tree, []) == []


# -- renewal.unmanaged-path -----------------------------------------------------------------------------------


def test_config_pointing_into_archive(tree: CertbotTree) -> None:
    tree.lineage(NAME, params={"renew_hook": "systemctl reload postfix"})
    uses = postfix(f"{LE}/archive/{NAME}/fullchain1.pem", f"{LE}/archive/{NAME}/privkey1.pem")
    findings = only(run(tree, uses), "renewal.unmanaged-path")
    assert len(findings) == 2  # the certificate and the key setting, each once for ports 25 and 587
    cert, key = findings
    assert cert.severity is Severity.WARNING and (cert.file, cert.line) == ("/etc/postfix/main.cf", 12)
    assert "ports 25, 587" in cert.message and cert.port is None
    assert f"to {LIVE}/fullchain.pem" in cert.fix
    assert f"to {LIVE}/privkey.pem" in key.fix


def test_archive_cert_pem_is_repointed_at_fullchain(tree: CertbotTree) -> None:
    tree.lineage(NAME, params={"renew_hook": "systemctl reload dovecot"})
    (finding,) = only(run(tree, dovecot(f"{LE}/archive/{NAME}/cert1.pem", None)), "renewal.unmanaged-path")
    assert f"to {LIVE}/fullchain.pem" in finding.fix


def test_copy_of_the_current_certificate(tree: CertbotTree) -> None:
    (leaf,) = tree.lineage(NAME, params={"renew_hook": "systemctl reload postfix"})
    (finding,) = only(
        run(tree, postfix("/etc/postfix/mail.pem", "/etc/postfix/mail.key", leaf)), "renewal.unmanaged-path"
    )
    assert "a copy of certbot lineage mail.example.test" in finding.message
    assert "stale" not in finding.message
    assert f"{LIVE}/fullchain.pem" in finding.fix and f"{LIVE}/privkey.pem" in finding.fix


def test_copy_of_an_older_certificate_is_called_stale(tree: CertbotTree) -> None:
    old, _ = tree.lineage(NAME, periods=((START - days(90), START + days(1)), (START, END)))
    (finding,) = only(run(tree, postfix("/etc/postfix/mail.pem", None, old)), "renewal.unmanaged-path")
    assert "cert1.pem" in finding.message and "already stale" in finding.message
    assert END.strftime("%Y-%m-%d") in finding.message


def test_copy_kept_fresh_by_a_deploy_hook_is_fine(tree: CertbotTree) -> None:
    (leaf,) = tree.lineage(NAME)
    tree.hook(
        "deploy",
        "copy-to-postfix",
        '#!/bin/sh\ninstall -m 0644 "$RENEWED_LINEAGE/fullchain.pem" /etc/postfix/mail.pem\npostfix reload\n',
    )
    assert run(tree, postfix("/etc/postfix/mail.pem", None, leaf)) == []


def test_unrelated_certificate_is_not_a_copy(tree: CertbotTree, pki: TestPKI) -> None:
    tree.lineage(NAME)
    other = pki.leaf(("other.example.test",))
    assert run(tree, postfix("/etc/postfix/other.pem", None, other)) == []


def test_symlink_to_an_old_archive_file(tree: CertbotTree) -> None:
    tree.lineage(
        NAME,
        periods=((START - days(90), START + days(1)), (START, END)),
        params={"renew_hook": "postfix reload"},
    )
    tree.path("/etc/postfix").mkdir(parents=True)
    tree.path("/etc/postfix/mail.pem").symlink_to(f"{LE}/archive/{NAME}/fullchain1.pem")
    services = [_postfix_config("/etc/postfix/mail.pem", None)]
    (finding,) = only(run(tree, cert_uses(services, tree.files)), "renewal.unmanaged-path")
    assert f"a symlink to {LE}/archive/{NAME}/fullchain1.pem" in finding.message
    assert f"to {LIVE}/fullchain.pem" in finding.fix


# -- renewal.lineage-superseded (scenario 16) ---------------------------------------------------------------


def test_newer_sibling_lineage_not_used(tree: CertbotTree) -> None:
    tree.lineage(
        NAME,
        ("mail.example.test",),
        periods=((START, START + days(90)),),
        params={"renew_hook": "postfix reload"},
    )
    tree.lineage(
        f"{NAME}-0001", ("mail.example.test", "imap.example.test"), periods=((START + days(30), END),)
    )
    (finding,) = only(run(tree, postfix()), "renewal.lineage-superseded")
    assert (
        "newer certbot lineage mail.example.test-0001 (names: mail.example.test, imap.example.test"
        in finding.message
    )
    assert "expires 2026-04-01" in finding.message  # the old lineage's expiry, START + 90 days
    assert f"{LE}/live/{NAME}-0001/fullchain.pem" in finding.fix
    assert f"certbot delete --cert-name {NAME}" in finding.fix


def test_services_already_on_the_newer_lineage(tree: CertbotTree) -> None:
    tree.lineage(NAME, periods=((START, START + days(90)),))
    tree.lineage(f"{NAME}-0001", periods=((START + days(30), END),), params={"renew_hook": "postfix reload"})
    live = f"{LE}/live/{NAME}-0001"
    assert run(tree, postfix(f"{live}/fullchain.pem", f"{live}/privkey.pem")) == []


def test_older_sibling_is_not_superseding(tree: CertbotTree) -> None:
    tree.lineage(NAME, periods=((START + days(30), END),), params={"renew_hook": "postfix reload"})
    tree.lineage(f"{NAME}-0001", periods=((START, START + days(90)),))
    assert only(run(tree, postfix()), "renewal.lineage-superseded") == []


def test_superseded_lineage_used_through_a_copy(tree: CertbotTree) -> None:
    (old,) = tree.lineage(NAME, periods=((START, START + days(90)),))
    tree.lineage(f"{NAME}-0001", periods=((START + days(30), END),))
    findings = run(tree, postfix("/etc/postfix/mail.pem", None, old))
    assert {f.check for f in findings} == {"renewal.unmanaged-path", "renewal.lineage-superseded"}


# -- renewal.not-configured -----------------------------------------------------------------------------------


def test_nothing_runs_certbot_renew(tmp_path: Path, pki: TestPKI) -> None:
    tree = CertbotTree(tmp_path, pki)
    tree.install_certbot()
    tree.path("/etc/cron.d").mkdir(parents=True)
    tree.lineage(NAME, params={"renew_hook": "postfix reload"})
    (finding,) = only(run(tree, postfix()), "renewal.not-configured")
    assert "nothing runs `certbot renew`" in finding.message and NAME in finding.message
    assert "/etc/cron.d/certbot" in finding.fix


def test_debian_on_systemd_with_the_timer_disabled(tmp_path: Path, pki: TestPKI) -> None:
    tree = CertbotTree(tmp_path, pki)
    tree.install_certbot()
    tree.debian_schedule(systemd_booted=True, timer_enabled=False)
    tree.lineage(NAME, params={"renew_hook": "postfix reload"})
    (finding,) = only(run(tree, postfix()), "renewal.not-configured")
    assert "not enabled" in finding.message
    assert "systemctl enable --now certbot.timer" in finding.fix


def test_certbot_not_installed_while_lineages_exist(tmp_path: Path, pki: TestPKI) -> None:
    tree = CertbotTree(tmp_path, pki)
    tree.path("/usr/bin").mkdir(parents=True)
    tree.debian_schedule()
    tree.lineage(NAME)
    (finding,) = only(run(tree, []), "renewal.not-configured")
    assert "certbot is not installed" in finding.message and "apt-get install certbot" in finding.fix


def test_config_only_tree_does_not_guess(tmp_path: Path, pki: TestPKI) -> None:
    tree = CertbotTree(tmp_path, pki)
    tree.lineage(NAME, params={"renew_hook": "postfix reload"})
    assert run(tree, postfix()) == []


def test_unused_lineage_without_schedule_is_not_reported(tmp_path: Path, pki: TestPKI) -> None:
    tree = CertbotTree(tmp_path, pki)
    tree.install_certbot()
    tree.path("/etc/cron.d").mkdir(parents=True)
    tree.lineage(NAME)
    assert run(tree, []) == []


def test_used_lineage_with_broken_conf(tree: CertbotTree) -> None:
    tree.lineage(NAME)
    tree.write(f"{LE}/renewal/{NAME}.conf", "version = 2.1.0\n<<<<<<< HEAD\n")
    (finding,) = run(tree, postfix())
    assert finding.check == "renewal.not-configured" and "broken" in finding.message
    assert finding.file == f"{LE}/renewal/{NAME}.conf"


def test_used_live_dir_without_renewal_conf(tree: CertbotTree) -> None:
    tree.lineage(NAME, conf=False)
    (finding,) = run(tree, postfix())
    assert finding.check == "renewal.not-configured" and "no renewal conf" in finding.message


def test_autorenew_false(tree: CertbotTree) -> None:
    tree.lineage(NAME, params={"autorenew": "False", "renew_hook": "postfix reload"})
    (finding,) = run(tree, postfix())
    assert finding.check == "renewal.not-configured" and "autorenew = False" in finding.fix


def test_manual_without_auth_hook(tree: CertbotTree) -> None:
    tree.lineage(NAME, params={"renew_hook": "postfix reload"})
    conf = tree.path(f"{LE}/renewal/{NAME}.conf")
    conf.write_text(conf.read_text().replace("authenticator = standalone", "authenticator = manual"))
    (finding,) = run(tree, postfix())
    assert finding.check == "renewal.not-configured" and "--manual" in finding.message


# -- renewal.overdue --------------------------------------------------------------------------------------------


def test_overdue_renewal_quotes_the_log(tree: CertbotTree) -> None:
    tree.lineage(NAME, periods=((NOW - days(80), NOW + days(20)),), params={"renew_hook": "postfix reload"})
    tree.write(
        "/var/log/letsencrypt/letsencrypt.log",
        "2026-05-31 12:00:03,001:ERROR:certbot._internal.renewal:Failed to renew certificate mail.example.test"
        " with error: Could not bind TCP port 80 because it is already in use\n",
    )
    (finding,) = run(tree, postfix())
    assert finding.check == "renewal.overdue" and finding.severity is Severity.WARNING
    assert "due for renewal since 2026-05-22" in finding.message  # 30 days before 2026-06-21
    assert "Could not bind TCP port 80" in finding.message
    assert f"certbot renew --cert-name {NAME}" in finding.fix


def test_inside_the_window_for_less_than_three_days_is_fine(tree: CertbotTree) -> None:
    tree.lineage(NAME, periods=((NOW - days(80), NOW + days(28)),), params={"renew_hook": "postfix reload"})
    assert run(tree, postfix()) == []


# -- CertUse from parsed services -----------------------------------------------------------------------------


def _postfix_config(cert: str, key: str | None) -> ServiceConfig:
    source = CertSource((cert,), key, "smtpd_tls_cert_file", MAIN_CF)
    sni = SniCert(
        ("imap.example.test",), CertSource((f"{LIVE}/fullchain.pem",), None, "tls_server_sni_maps", None)
    )
    listener = Listener("postfix", "smtp", 25, Mode.STARTTLS, True, (source,), sni=(sni,))
    return ServiceConfig("postfix", (listener,))


def test_cert_uses_reads_default_and_sni_certificates(tree: CertbotTree) -> None:
    (leaf,) = tree.lineage(NAME)
    uses = cert_uses([_postfix_config(f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem")], tree.files)
    assert [(u.service, u.port, u.cert_path, u.setting) for u in uses] == [
        ("postfix", 25, f"{LIVE}/fullchain.pem", "smtpd_tls_cert_file"),
        ("postfix", 25, f"{LIVE}/fullchain.pem", "tls_server_sni_maps"),
    ]
    assert uses[0].leaf_der == leaf.cert.public_bytes(Encoding.DER)
    assert uses[0].cert_resolved == f"{LE}/archive/{NAME}/fullchain1.pem"


def test_renewal_findings_for_a_host(tree: CertbotTree) -> None:
    tree.lineage(NAME)
    services = [_postfix_config(f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem")]
    (finding,) = renewal_findings(tree.files, services, NOW)
    assert finding.check == "renewal.no-reload-hook" and finding.service == "postfix"


def test_host_without_certbot_has_no_renewal_findings(tmp_path: Path) -> None:
    assert renewal_findings(LocalRoot(tmp_path), [_postfix_config("/etc/ssl/mail.pem", None)], NOW) == []


def test_with_the_real_postfix_and_dovecot_parsers(tree: CertbotTree) -> None:
    """lint's path: parse the services' config files, then check renewals of what they use."""
    tree.lineage(NAME, params={"renew_hook": "systemctl reload postfix"})
    tree.write(
        "/etc/postfix/main.cf",
        f"myhostname = mail.example.test\nsmtpd_tls_cert_file = {LIVE}/fullchain.pem\n"
        f"smtpd_tls_key_file = {LIVE}/privkey.pem\nsmtpd_tls_security_level = may\n",
    )
    tree.write(
        "/etc/postfix/master.cf",
        "smtp      inet  n       -       y       -       -       smtpd\n"
        "submission inet n       -       y       -       -       smtpd\n"
        "  -o smtpd_tls_security_level=encrypt\n",
    )
    tree.write(
        "/etc/dovecot/dovecot.conf",
        f"protocols = imap\nssl = required\nssl_cert = <{LE}/archive/{NAME}/fullchain1.pem\n"
        f"ssl_key = <{LIVE}/privkey.pem\n",
    )
    services = [parser_for(role)(tree.files) for role in detect_roles(tree.files)]
    findings = renewal_findings(tree.files, services, NOW)
    assert sorted((f.check, f.service, f.file) for f in findings) == [
        ("renewal.no-reload-hook", "dovecot", f"{LE}/renewal/{NAME}.conf"),
        ("renewal.unmanaged-path", "dovecot", "/etc/dovecot/dovecot.conf"),
    ]
