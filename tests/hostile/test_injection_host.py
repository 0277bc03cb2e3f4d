"""A hostile host: config values, file names and certificate fields full of shell syntax, newlines,
framing lines of the gather document, control characters and non-UTF-8 bytes. Gathered over a REAL sshd
(one remote POSIX sh program) and linted from a copy: nothing runs (canary files), the facts are not
forged, and every report format stays well-formed."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcert.audit.host import AuditSettings
from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.hostfs import LocalRoot
from mailcert.model import Report
from mailcert.pki.trust import TrustStore
from mailcert.tasks.audit import run_audit
from tests.fuzz.hostile_certs import hostile_certificates
from tests.hostile.reports import check_all_formats
from tests.integration import sshd_fixture
from tests.integration.sshd_fixture import Sshd
from tests.integration.test_ssh_gather import plant
from tests.pki import NOW

pytestmark = sshd_fixture.NEEDS_ROOT
sshd = sshd_fixture.sshd

# Lines of the gather document a file name or value might try to forge (uid 0 says "gathered as root").
FORGED = "\n%E\n%R meta\n%P uid\n" + base64.b64encode(b"4242").decode() + "\n%E\n%END\n"


@dataclass
class HostileHost:
    root: Path
    canaries: Path

    def canary_commands(self) -> list[str]:
        return sorted(p.name for p in self.canaries.iterdir())


def _touch(canaries: Path, name: str) -> str:
    return f"touch {canaries}/{name}"


def plant_hostile(base: Path) -> HostileHost:
    planted = plant(base / "host")
    root, canaries = planted.root, base / "canaries"
    canaries.mkdir()

    def write(path: str, data: bytes | str, mode: int = 0o644) -> None:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
        target.chmod(mode)

    t = lambda name: _touch(canaries, name)  # noqa: E731
    write(
        "/etc/dovecot/conf.d/10-ssl.conf",
        f"ssl_cert = </etc/ssl/$({t('dovecot-cert')}).pem\n"
        f"ssl_key = </etc/ssl/`{t('dovecot-key')}`.key\n"
        f"ssl_ca = </etc/ssl/x;{t('dovecot-ca')};.pem\n"
        f"!include_try /etc/dovecot/$({t('dovecot-include')})/*.conf\n"
        "local_name mail\x9b31m.example.test {\n  ssl_cert = </etc/ssl/\xff\xfe.pem\n}\n",
    )
    # File names a glob include picks up: a newline forging document records, backticks, $(...)
    write(f"/etc/dovecot/conf.d/20-forge{FORGED}.conf", "ssl_min_protocol = TLSv1\n")
    write(f"/etc/dovecot/conf.d/30-`{t('name-backtick')}`.conf", f"ssl_dh = </etc/ssl/$({t('dh')})\n")
    write(f"/etc/dovecot/conf.d/40-$({t('name-dollar')}).conf", "protocols = imap\n")
    write("/etc/dovecot/conf.d/50-\xff\xfe-latin.conf", b"# \xff\xfe\n")
    write("/etc/dovecot/conf.d/60-\x1b[2J\x1b]0;pwned\x07.conf", "ssl_cert = </etc/ssl/\x1b[31m.pem\n")
    write(
        "/etc/postfix/main.cf",
        (root / "etc/postfix/main.cf").read_text()
        + f"smtpd_tls_chain_files = /etc/ssl/$({t('postfix-chain')})/x.pem, /etc/ssl/`{t('bt')}`\n"
        f"smtpd_tls_eccert_file = /etc/ssl/;{t('postfix-semicolon')};\n"
        f"smtpd_tls_eckey_file = ../../../../etc/shadow\n"
        f"tls_server_sni_maps = texthash:/etc/postfix/sni$({t('postfix-sni')})\n"
        f"myhostname = mail.example.test$({t('myhostname')})\n"
        # C1 CSI as UTF-8 (a C0 control such as ESC would make gather send main.cf as binary: see below)
        "mydomain = \x9b2Jexample.test\n",
    )
    write(
        "/etc/exim.conf",
        f"tls_certificate = /etc/ssl/$({t('exim-cert')})\n"
        f"tls_privatekey = ${{run{{/bin/sh -c '{t('exim-run')}'}}}}\n"
        f".include /etc/exim/`{t('exim-include')}`\n"
        "daemon_smtp_ports = 25 : 465\ntls_on_connect_ports = 465\n",
    )
    _what, named = next(c for c in hostile_certificates() if c[0] == "name 0")  # SAN with a newline
    write("/etc/ssl/certs/dovecot.pem", named.pem)
    # Every hostile certificate (shell syntax, controls and HTML in names, junk extensions) served by SNI
    blocks = []
    for index, (_what, issued) in enumerate(hostile_certificates()):
        write(f"/etc/ssl/hostile/{index}.pem", issued.pem)
        write(f"/etc/ssl/hostile/{index}.key", issued.key_pem(), 0o600)
        blocks.append(
            f"local_name sni{index}.example.test {{\n  ssl_cert = </etc/ssl/hostile/{index}.pem\n"
            f"  ssl_key = </etc/ssl/hostile/{index}.key\n}}\n"
        )
    write("/etc/dovecot/conf.d/70-hostile-sni.conf", "".join(blocks))
    write(f"/etc/letsencrypt/renewal/evil{FORGED}.conf", f"cert = /etc/$({t('certbot-conf')})\n")
    write(
        "/etc/letsencrypt/renewal-hooks/deploy/`reload`",
        f"#!/bin/sh\n{t('hook-ran')}\nsystemctl reload postfix\n",
        0o755,
    )
    write("/etc/cron.d/certbot", f"0 0 * * * root certbot renew; {t('cron')}\n")
    return HostileHost(root, canaries)


@pytest.fixture
def hostile(tmp_path: Path) -> HostileHost:
    return plant_hostile(tmp_path)


def _options() -> LintOptions:
    return LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([])))


def test_hostile_tree_gathered_over_ssh_runs_nothing_and_forges_nothing(
    sshd: Sshd, hostile: HostileHost
) -> None:
    settings = AuditSettings(
        now=NOW, probe=False, gather_root=str(hostile.root), trust_loader=lambda _b: TrustStore.of([])
    )
    [result] = run_audit([sshd.host(name="mx-hostile")], settings)
    assert hostile.canary_commands() == []  # nothing ran on the host (here also the control machine)
    assert result.report.error is None, result.report.error
    gathered = result.gathered
    assert gathered is not None
    assert gathered.meta("uid") == "0"  # a file name's "%P uid" lines did not replace the real record
    report = Report(generated_at=datetime.now(UTC), evaluated_at=NOW, hosts=(result.report,))
    check_all_formats(report)
    assert hostile.canary_commands() == []


def test_hostile_tree_linted_from_a_copy_runs_nothing(hostile: HostileHost) -> None:
    host = lint_host(LocalRoot(hostile.root), name="mx-hostile", options=_options())
    rendered = check_all_formats(Report(generated_at=datetime.now(UTC), evaluated_at=NOW, hosts=(host,)))
    assert hostile.canary_commands() == []
    # the hostile values are shown (escaped), not dropped: an admin must be able to find them
    assert "\\x1b" in rendered["text"] or "\\x1b" in rendered["markdown"]


def test_control_character_in_main_cf_makes_the_host_unknown_with_one_clear_line(
    sshd: Sshd, tmp_path: Path
) -> None:
    """Known limit: gather sends a config holding a C0 control as "binary"; the reason is said once."""
    planted = plant(tmp_path / "host")
    main_cf = planted.root / "etc/postfix/main.cf"
    main_cf.write_bytes(main_cf.read_bytes() + b"mydomain = \x1b]0;pwned\x07example.test\n")
    settings = AuditSettings(
        now=NOW, probe=False, gather_root=str(planted.root), trust_loader=lambda _b: TrustStore.of([])
    )
    [result] = run_audit([sshd.host(name="mx-c0")], settings)
    error = result.report.error or ""
    assert "/etc/postfix/main.cf: cannot read Postfix main.cf" in error and "\n" not in error
    assert error.count("check the path") == 1  # the what-to-do once, not twice
    (finding,) = result.report.findings
    assert finding.check == "host.unreachable" and "check the path" in finding.fix
