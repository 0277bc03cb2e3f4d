"""Reading certbot's state from a host tree laid out as certbot lays it out (and from its real files)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcert.services.certbot.conf import ConfSyntaxError, parse_renewal_conf
from mailcert.services.certbot.hooks import POSTMAP_F, reload_actions
from mailcert.services.certbot.model import HookStage
from mailcert.services.certbot.parser import lineage_file_role, read_certbot
from tests.data.certbot.tree import LE, RECORDED, CertbotTree, days
from tests.pki import END, START, TestPKI

MAIL = ("mail.example.test", "imap.example.test")


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI("Certbot Reader")


@pytest.fixture
def tree(tmp_path: Path, pki: TestPKI) -> CertbotTree:
    return CertbotTree(tmp_path, pki)


# -- renewal conf format ------------------------------------------------------------------------------------


def test_real_renewal_conf_with_quoted_deploy_hook() -> None:
    conf = parse_renewal_conf((RECORDED / "renewal-certbot-2.1.0.conf").read_text())
    assert conf.top["cert"] == "/etc/letsencrypt/live/mail.example.test/cert.pem"
    assert conf.top["version"] == "2.1.0"
    # certbot quoted it because of the ',' and '#': the quotes are ConfigObj's, not the command's
    assert conf.renewalparams["renew_hook"] == 'systemctl reload postfix dovecot, echo "a#b"'
    assert conf.renewalparams["authenticator"] == "standalone"
    assert conf.renew_before_expiry is None  # the "# renew_before_expiry = 30 days" header is a comment


def test_real_webroot_conf_with_reuse_key_and_post_hook() -> None:
    conf = parse_renewal_conf((RECORDED / "renewal-certbot-2.1.0-webroot.conf").read_text())
    assert conf.renewalparams["renew_hook"] == "systemctl reload postfix && doveadm reload"
    assert conf.renewalparams["post_hook"] == "echo done # x"
    assert conf.renewalparams["reuse_key"] == "True"
    assert conf.webroot_map == {"mail2.example.test": "/var/www/html", "smtp.example.test": "/var/www/html"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("cert = /a\ncert = /b\n", "duplicate key"),
        ("[renewalparams\nx = 1\n", "invalid section"),
        ("just some words\n", "not 'key = value'"),
        ("renew_hook = 'unterminated\n", "unterminated"),
        ("[renewalparams]\n[renewalparams]\n", "duplicate section"),
        ("a = 1\n\x00\x01\x02 = \xff\n", "binary"),
    ],
)
def test_conf_junk_is_refused_with_the_line(text: str, reason: str) -> None:
    with pytest.raises(ConfSyntaxError, match=reason):
        parse_renewal_conf(text)


def test_unquoted_value_ends_at_inline_comment() -> None:
    conf = parse_renewal_conf(
        "[renewalparams]\nkey_type = rsa   # changed by hand\nrenew_before_expiry = x\n"
    )
    assert conf.renewalparams["key_type"] == "rsa"


# -- lineages ---------------------------------------------------------------------------------------------------


def test_lineage_from_tree(tree: CertbotTree) -> None:
    issued = tree.lineage(
        "mail.example.test",
        MAIL,
        periods=((START - days(90), START), (START, END)),
        params={"renew_hook": "systemctl reload postfix", "reuse_key": "True"},
    )
    conf = tree.path(f"{LE}/renewal/mail.example.test.conf")
    conf.write_text(
        conf.read_text().replace("version = 2.1.0\n", "version = 2.1.0\nrenew_before_expiry = 2 weeks\n")
    )
    state = read_certbot(tree.files)
    (lineage,) = state.lineages
    assert lineage.name == "mail.example.test"
    assert lineage.renewal_conf == f"{LE}/renewal/mail.example.test.conf"
    assert lineage.fullchain == f"{LE}/live/mail.example.test/fullchain.pem"
    assert lineage.archive_dir == f"{LE}/archive/mail.example.test"
    assert lineage.names == MAIL
    assert lineage.not_after == END
    assert lineage.leaf_der == issued[-1].cert.public_bytes(Encoding.DER)
    assert [v.number for v in lineage.versions] == [1, 2]
    assert lineage.versions[0].not_after == START
    assert lineage.renew_hook == "systemctl reload postfix"
    assert lineage.reuse_key is True
    assert lineage.key_type == "ecdsa"
    assert lineage.server == "https://acme-v02.api.letsencrypt.org/directory"
    assert lineage.authenticator == "standalone"
    assert lineage.renew_before_expiry == "2 weeks"
    assert lineage.conf_error is None and lineage.cert_error is None
    assert (tree.path(f"{LE}/live/mail.example.test/cert.pem")).readlink() == Path(
        "../../archive/mail.example.test/cert2.pem"
    )


def test_live_dir_without_renewal_conf_is_never_renewed(tree: CertbotTree) -> None:
    tree.lineage("orphan.example.test", ("orphan.example.test",), conf=False)
    (lineage,) = read_certbot(tree.files).lineages
    assert lineage.renewal_conf is None
    assert lineage.names == ("orphan.example.test",)
    assert lineage.conf_error is not None and "no renewal conf" in lineage.conf_error


def test_broken_conf_becomes_a_lineage_with_a_reason(tree: CertbotTree) -> None:
    tree.lineage("mail.example.test", MAIL)
    tree.write(f"{LE}/renewal/mail.example.test.conf", b"\x89PNG\r\n\x1a\n\x00\x00 garbage")
    (lineage,) = read_certbot(tree.files).lineages
    assert lineage.conf_error is not None and "broken" in lineage.conf_error
    assert lineage.names == MAIL  # the live certificate is still read


def test_conf_without_file_references(tree: CertbotTree) -> None:
    tree.lineage("mail.example.test", MAIL)
    tree.write(
        f"{LE}/renewal/mail.example.test.conf",
        "version = 2.1.0\n[renewalparams]\nauthenticator = standalone\n",
    )
    (lineage,) = read_certbot(tree.files).lineages
    assert lineage.conf_error is not None and "names no cert, chain, fullchain, privkey" in lineage.conf_error


def test_missing_live_certificate(tree: CertbotTree) -> None:
    tree.write(f"{LE}/renewal/gone.example.test.conf", (RECORDED / "renewal-certbot-2.1.0.conf").read_text())
    (lineage,) = read_certbot(tree.files).lineages
    assert lineage.name == "gone.example.test"
    assert lineage.cert_error is not None and lineage.names == ()


def test_sibling_lineage_names(tree: CertbotTree) -> None:
    tree.lineage("mail.example.test", MAIL)
    tree.lineage("mail.example.test-0001", MAIL)
    old, new = read_certbot(tree.files).lineages
    assert (old.name, old.base_name, old.sequence) == ("mail.example.test", "mail.example.test", 0)
    assert (new.name, new.base_name, new.sequence) == ("mail.example.test-0001", "mail.example.test", 1)


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/etc/letsencrypt/live/mail.example.test/cert.pem", "cert"),
        ("/etc/letsencrypt/live/mail.example.test-0001/fullchain.pem", "fullchain"),
        ("/etc/letsencrypt/archive/mail.example.test/chain12.pem", "chain"),
        ("/etc/letsencrypt/archive/mail.example.test/privkey3.pem", "privkey"),
        ("/srv/certbot/live/x/privkey.pem", "privkey"),  # any --config-dir
        ("/etc/letsencrypt/live/mail.example.test/README", None),
        ("/etc/postfix/cert.pem", None),
        ("/etc/letsencrypt/archive/mail.example.test/cert.pem", None),  # archive files are numbered
    ],
)
def test_lineage_file_role(path: str, role: str | None) -> None:
    assert lineage_file_role(path) == role


# -- hooks ------------------------------------------------------------------------------------------------------


def test_hook_files_executable_backup_and_reloads(tree: CertbotTree) -> None:
    tree.hook("deploy", "10-mail", "#!/bin/sh\nsystemctl reload postfix\ndoveadm reload\n")
    tree.hook("deploy", "20-sni", "#!/bin/sh\npostmap -F hash:/etc/postfix/sni\n", mode=0o644)
    tree.hook("deploy", "10-mail~", "#!/bin/sh\nservice exim4 restart\n")
    tree.hook("pre", "stop", "#!/bin/sh\n# systemctl reload dovecot\nsystemctl stop nginx\n")
    hooks = {h.source.rsplit("/", 1)[1]: h for h in read_certbot(tree.files).hooks}
    assert hooks["10-mail"].runs and hooks["10-mail"].reloads == {"postfix", "dovecot"}
    assert hooks["10-mail"].stage is HookStage.DEPLOY
    assert (
        not hooks["20-sni"].runs and hooks["20-sni"].reloads == {POSTMAP_F} and hooks["20-sni"].mode == 0o644
    )
    assert not hooks["10-mail~"].runs  # certbot skips names ending in "~"
    assert hooks["stop"].stage is HookStage.PRE and hooks["stop"].reloads == frozenset()


def test_renew_hook_calling_a_script_sees_what_the_script_reloads(tree: CertbotTree) -> None:
    tree.write(
        "/usr/local/sbin/reload-mail",
        "#!/bin/bash\nset -e\n/usr/sbin/postfix reload\nsystemctl restart dovecot.service\n",
        0o755,
    )
    tree.lineage("mail.example.test", MAIL, params={"renew_hook": "/usr/local/sbin/reload-mail"})
    (lineage,) = read_certbot(tree.files).lineages
    (hook,) = lineage.hooks
    assert hook.setting == "renew_hook" and hook.stage is HookStage.DEPLOY
    assert hook.reloads == {"postfix", "dovecot"}


def test_cli_ini_hooks_apply_to_every_lineage(tree: CertbotTree) -> None:
    tree.write(
        f"{LE}/cli.ini",
        "# Because we are using logrotate\nmax-log-backups = 0\ndeploy-hook = systemctl reload postfix\npost-hook: doveadm reload\n",
    )
    hooks = read_certbot(tree.files).hooks
    assert [(h.stage, h.setting, h.reloads) for h in hooks] == [
        (HookStage.DEPLOY, "deploy-hook", {"postfix"}),
        (HookStage.POST, "post-hook", {"dovecot"}),
    ]


@pytest.mark.parametrize(
    ("script", "reloads"),
    [
        ("systemctl reload postfix dovecot", {"postfix", "dovecot"}),
        ("systemctl -q reload-or-restart postfix@-.service", {"postfix"}),
        ("service exim4 restart", {"exim"}),
        ("/etc/init.d/dovecot reload", {"dovecot"}),
        ("postfix reload && postmap -F lmdb:/etc/postfix/sni", {"postfix", POSTMAP_F}),
        ("postmap hash:/etc/postfix/sni", set()),  # without -F the table holds file names: no rebuild of PEM
        ("bash -c 'doveadm reload; true'", {"dovecot"}),
        ("echo systemctl reload postfix", set()),
        ("# systemctl reload postfix", set()),
        ("systemctl status postfix", set()),
        ("sudo -n systemctl restart dovecot", {"dovecot"}),
    ],
)
def test_what_a_hook_reloads(script: str, reloads: set[str]) -> None:
    assert reload_actions(script) == reloads


# -- scheduling and installation -----------------------------------------------------------------------------


def test_debian_package_schedule_without_systemd(tree: CertbotTree) -> None:
    tree.debian_schedule()
    state = read_certbot(tree.files)
    cron = next(s for s in state.schedules if s.kind == "cron")
    assert (cron.path, cron.line, cron.runs) == ("/etc/cron.d/certbot", 17, True)
    assert state.renewal_scheduled


def test_debian_cron_line_does_nothing_on_systemd_and_the_timer_is_disabled(tree: CertbotTree) -> None:
    tree.debian_schedule(systemd_booted=True, timer_enabled=False)
    state = read_certbot(tree.files)
    assert {(s.kind, s.runs) for s in state.schedules} == {("cron", False), ("systemd-timer", False)}
    assert not state.renewal_scheduled


def test_enabled_timer_schedules_renewal(tree: CertbotTree) -> None:
    tree.debian_schedule(systemd_booted=True, timer_enabled=True)
    assert read_certbot(tree.files).renewal_scheduled


def test_masked_timer(tree: CertbotTree) -> None:
    tree.write("/lib/systemd/system/certbot.timer", (RECORDED / "certbot.timer").read_bytes())
    tree.path("/etc/systemd/system").mkdir(parents=True)
    tree.path("/etc/systemd/system/certbot.timer").symlink_to("/dev/null")
    (timer,) = read_certbot(tree.files).schedules
    assert not timer.runs and timer.why_not == "certbot.timer is masked"


def test_root_crontab_line(tree: CertbotTree) -> None:
    tree.write(
        "/var/spool/cron/crontabs/root",
        "# m h dom mon dow command\n#0 0 * * * certbot renew\n30 2 * * 1 /usr/bin/certbot renew --quiet --deploy-hook 'x'\n",
    )
    (cron,) = read_certbot(tree.files).schedules
    assert (cron.path, cron.line, cron.runs) == ("/var/spool/cron/crontabs/root", 3, True)


def test_config_only_tree_cannot_tell_schedule_or_installation(tree: CertbotTree) -> None:
    state = read_certbot(tree.files)
    assert state.schedule_known is False and state.installed is None


def test_installed_certbot_and_its_version(tree: CertbotTree) -> None:
    tree.install_certbot("2.1.0")
    state = read_certbot(tree.files)
    assert state.installed is True and state.certbot_paths == ("/usr/bin/certbot",)
    assert state.certbot_version == "2.1.0"


def test_bin_dir_without_certbot_means_not_installed(tree: CertbotTree) -> None:
    tree.path("/usr/bin").mkdir(parents=True)
    assert read_certbot(tree.files).installed is False


def test_failures_from_certbot_log(tree: CertbotTree) -> None:
    tree.write(
        "/var/log/letsencrypt/letsencrypt.log",
        "2026-05-20 03:17:02,114:DEBUG:certbot._internal.main:certbot version: 2.1.0\n"
        "2026-05-20 03:17:05,870:ERROR:certbot._internal.renewal:Failed to renew certificate mail.example.test"
        " with error: Could not bind TCP port 80 because it is already in use by another process on this system"
        " (such as a web server). Please stop the program in question and then try again.\n",
    )
    (failure,) = read_certbot(tree.files).failures
    assert failure.lineage == "mail.example.test"
    assert failure.when == "2026-05-20 03:17:05"
    assert failure.error.startswith("Could not bind TCP port 80")


# -- bad input never raises -----------------------------------------------------------------------------------


def test_junk_everywhere_is_read_without_exceptions(tree: CertbotTree) -> None:
    tree.lineage("mail.example.test", MAIL)
    tree.path(f"{LE}/renewal/dir.conf").mkdir()  # a directory where a conf should be
    tree.write(f"{LE}/renewal/empty.conf", b"")
    tree.write(f"{LE}/renewal/binary.conf", bytes(range(256)) * 64)
    loop = tree.path(f"{LE}/live/loop")
    loop.mkdir()
    (loop / "cert.pem").symlink_to("cert.pem")
    tree.write(f"{LE}/live/stray-file", "not a lineage")
    tree.hook("deploy", "huge", "#!/bin/sh\n" + "x" * 200_000)
    tree.hook("deploy", "quotes", "#!/bin/sh\nsystemctl reload 'postfix\n", mode=0o755)
    tree.write(f"{LE}/cli.ini", b"\xff\xfe\x00deploy-hook\n")
    tree.write("/etc/cron.d/certbot", b"\x00\x01 certbot renew '\n")
    state = read_certbot(tree.files)
    by_name = {lineage.name: lineage for lineage in state.lineages}
    assert by_name["mail.example.test"].conf_error is None
    assert by_name["dir"].conf_error is not None
    assert by_name["empty"].conf_error is not None  # no file references: certbot skips it
    assert by_name["binary"].conf_error is not None
    assert by_name["loop"].cert_error is not None
    assert "stray-file" not in by_name
    huge = next(h for h in state.hooks if h.source.endswith("/huge"))
    assert huge.text is None and huge.error is not None


@given(st.text(max_size=400))
@settings(max_examples=200, deadline=None)
def test_any_text_parses_or_raises_conf_syntax_error(text: str) -> None:
    with contextlib.suppress(ConfSyntaxError):
        parse_renewal_conf(text)


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_any_shell_text_gives_a_reload_set(text: str) -> None:
    assert isinstance(reload_actions(text), frozenset)


def test_enabling_symlink_alone_counts_as_an_enabled_timer(tree: CertbotTree) -> None:
    """A ROOT copied without /lib still shows the timer is enabled by its timers.target.wants link."""
    wants = tree.path("/etc/systemd/system/timers.target.wants")
    wants.mkdir(parents=True)
    (wants / "snap.certbot.renew.timer").symlink_to("/etc/systemd/system/snap.certbot.renew.timer")
    (timer,) = read_certbot(tree.files).schedules
    assert timer.runs and timer.text == "snap.certbot.renew.timer"
