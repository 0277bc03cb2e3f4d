"""Every secret-bearing file kind planted on a host tree, gathered by the real gather.sh (the program audit
runs over SSH, here run directly on the tree): none of the secrets' bytes leaves it, not in the gathered
text and not in any report format; the TLS settings the audit needs arrive as written."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.gather import GatheredHost
from mailcert.gather.program import gather_argv
from mailcert.model import Report
from mailcert.pki.trust import TrustStore
from tests.hostile.reports import check_all_formats
from tests.pki import NOW

# path: (text, the secrets in it)
PLANTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "/etc/postfix/main.cf": (
        "myhostname = mail.example.test\n"
        "smtpd_tls_cert_file = /etc/ssl/mail.pem\n"
        "smtpd_tls_key_file = /etc/ssl/mail.key\n"
        "virtual_mailbox_maps = ldap:/etc/postfix/ldap-users.cf, mysql:/etc/postfix/mysql-virtual.cf\n"
        "smtp_sasl_password_maps = static:relay:MainCfStaticPw1\n",
        ("MainCfStaticPw1",),
    ),
    "/etc/postfix/ldap-users.cf": (
        "server_host = ldap://ldap.example.test\nbind = yes\nbind_dn = cn=postfix,dc=example,dc=test\n"
        "bind_pw = LdapBindPw2\nsearch_base = dc=example,dc=test\n",
        ("LdapBindPw2",),
    ),
    "/etc/postfix/mysql-virtual.cf": (
        "user = postfix\npassword = MysqlMapPw3\nhosts = 127.0.0.1\ndbname = mail\n"
        "query = SELECT 1 FROM mailbox WHERE username='%s'\n",
        ("MysqlMapPw3",),
    ),
    "/etc/postfix/pgsql-uri.cf": (
        "hosts = postgresql://postfix:PgUriPw4@db.example.test/mail\n",
        ("PgUriPw4",),
    ),
    "/etc/letsencrypt/cli.ini": (
        "server = https://acme.example.test/directory\neab-kid = kid-1\neab-hmac-key = EabHmacKey5\n"
        "dns-cloudflare-credentials = /root/.secrets/CfCredPath6.ini\n",
        ("EabHmacKey5", "CfCredPath6"),
    ),
    "/etc/letsencrypt/renewal/mail.example.test.conf": (
        "version = 2.9.0\narchive_dir = /etc/letsencrypt/archive/mail.example.test\n"
        "cert = /etc/letsencrypt/live/mail.example.test/cert.pem\n"
        "privkey = /etc/letsencrypt/live/mail.example.test/privkey.pem\n"
        "chain = /etc/letsencrypt/live/mail.example.test/chain.pem\n"
        "fullchain = /etc/letsencrypt/live/mail.example.test/fullchain.pem\n\n[renewalparams]\n"
        "authenticator = dns-rfc2136\ndns_rfc2136_secret = TsigSecret7==\napi_key = RenewalApiKey8\n",
        ("TsigSecret7", "RenewalApiKey8"),
    ),
    "/etc/exim4/exim4.conf": (
        "primary_hostname = mail.example.test\n"
        "hide mysql_servers = localhost/exim/exim/EximMysqlPw9\n"
        "ldap_default_servers = <; ldap://exim:EximLdapPw10@ldap.example.test\n"
        "tls_certificate = /etc/exim4/exim.crt\ntls_privatekey = /etc/exim4/exim.key\n"
        "begin authenticators\nplain:\n  driver = plaintext\n"
        "  server_condition = ${if eq{$auth3}{EximAuthPw11}}\n",
        ("EximMysqlPw9", "EximLdapPw10", "EximAuthPw11"),
    ),
    "/etc/dovecot/dovecot.conf": (
        "ssl = required\nssl_cert = </etc/ssl/mail.pem\nssl_key = </etc/ssl/mail.key\n"
        "ssl_key_password = DovKeyPass12\n"
        "passdb {\n  driver = sql\n  args = /etc/dovecot/dovecot-sql.conf.ext\n}\n"
        "passdb {\n  driver = passwd-file\n  args = scheme=CRYPT username_format=%u password=DovArgsPw13\n}\n",
        ("DovKeyPass12", "DovArgsPw13"),
    ),
    "/etc/dovecot/dovecot-sql.conf.ext": (
        "driver = mysql\nconnect = host=127.0.0.1 dbname=mail user=dovecot password=DovSqlPw14\n",
        ("DovSqlPw14",),
    ),
    "/etc/dovecot/dovecot-ldap.conf.ext": (
        "uris = ldap://dovecot:DovLdapUriPw15@ldap.example.test\ndn = cn=dovecot\ndnpass = DovDnPass16\n",
        ("DovLdapUriPw15", "DovDnPass16"),
    ),
    "/etc/dovecot/users": (
        "user@example.test:{SHA512-CRYPT}$6$saltsalt$DovUserHash17::::\n",
        ("DovUserHash17",),
    ),
}


def test_no_secret_of_any_file_kind_leaves_the_host(tmp_path: Path) -> None:
    for path, (text, _secrets) in PLANTED.items():
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    done = subprocess.run(gather_argv(str(tmp_path)), capture_output=True, text=True, check=True, timeout=120)
    secrets = [secret for _text, found in PLANTED.values() for secret in found]
    assert [s for s in secrets if s in done.stdout] == []  # not even as a file name it went to look at
    gathered = GatheredHost.from_output(done.stdout, name="mx-secrets")
    sent = "\n".join(gathered.read_config(path).text or "" for path in PLANTED)  # decoded as audit reads it
    assert [s for s in secrets if s in sent] == []
    # The daemons' own tools print the configuration too (postconf -n prints the static: map as written):
    # their records reach the control machine as well.
    assert "postconf-n" in gathered.commands  # postfix is installed: the command really ran on the tree
    said = "\n".join(out.stdout + out.stderr for out in gathered.commands.values())
    assert "smtp_sasl_password_maps = (hidden-by-mailcert)" in said
    assert [s for s in secrets if s in said] == []
    for path in PLANTED:  # each file was gathered as text, so the test above saw its lines
        if path == "/etc/dovecot/users":  # a passwd-file is no configuration file: not sent at all
            assert gathered.read_config(path).text is None
            continue
        assert gathered.read_config(path).text is not None, path
    main_cf = gathered.read_config("/etc/postfix/main.cf").text or ""
    assert "smtpd_tls_cert_file = /etc/ssl/mail.pem\n" in main_cf
    assert "ssl_cert = </etc/ssl/mail.pem\n" in (gathered.read_config("/etc/dovecot/dovecot.conf").text or "")
    options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([])))
    host = lint_host(gathered, name="mx-secrets", options=options)
    rendered = check_all_formats(Report(generated_at=datetime.now(UTC), evaluated_at=NOW, hosts=(host,)))
    assert [s for s in secrets if any(s in text for text in rendered.values())] == []


def test_a_continued_secret_and_a_sasl_password_map_never_leave_the_host(tmp_path: Path) -> None:
    """A value continued over lines (Postfix indentation, Exim and Dovecot `\\`) and a SASL password map that
    gather.sh sends (a file named in the configuration outside the service folders is sent when it is
    executable; smtp_sasl_password_maps itself is hidden, so here a comment names it): the whole secret stays
    on the host, the TLS lines arrive as written."""
    planted = {
        "/etc/postfix/main.cf": "# relay credentials: /etc/mail/sasl_passwd\nsmtpd_tls_cert_file = /etc/ssl/mail.pem\n"
        "smtp_sasl_password_maps = hash:/etc/mail/sasl_passwd,\n    static:relay:PostfixContinued1\n"
        "smtpd_tls_key_file = /etc/ssl/mail.key\n",
        "/etc/mail/sasl_passwd": "[smtp.example.test]:587 relay:SaslMapPw2\n",
        "/etc/exim4/exim4.conf": "hide mysql_servers = localhost/exim/exim/\\\n    EximContinued3\n"
        "tls_certificate = /etc/exim4/exim.crt\n",
        "/etc/dovecot/dovecot.conf": "ssl_cert = </etc/ssl/mail.pem\n!include_try dovecot-sql.conf.ext\n",
        "/etc/dovecot/dovecot-sql.conf.ext": "connect = host=db user=dovecot \\\n  password=DovecotContinued4\n",
    }
    secrets = ["PostfixContinued1", "SaslMapPw2", "EximContinued3", "DovecotContinued4"]
    for path, text in planted.items():
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    (tmp_path / "etc/mail/sasl_passwd").chmod(0o755)
    done = subprocess.run(gather_argv(str(tmp_path)), capture_output=True, text=True, check=True, timeout=120)
    gathered = GatheredHost.from_output(done.stdout, name="mx-continued")
    sent = {path: gathered.read_config(path).text for path in planted}
    assert sent["/etc/mail/sasl_passwd"] == "[smtp.example.test]:587 relay: (hidden-by-mailcert)\n"
    said = "\n".join(out.stdout + out.stderr for out in gathered.commands.values())
    assert [
        s for s in secrets if s in done.stdout or s in said or any(s in (t or "") for t in sent.values())
    ] == []
    assert "smtpd_tls_key_file = /etc/ssl/mail.key\n" in (sent["/etc/postfix/main.cf"] or "")
    assert "tls_certificate = /etc/exim4/exim.crt\n" in (sent["/etc/exim4/exim4.conf"] or "")
