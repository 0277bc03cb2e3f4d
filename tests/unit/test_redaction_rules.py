"""The host's redaction rule (gather.sh `redact`, run by dash and bash) against a corpus of secret-bearing
lines written after real Postfix, Dovecot, Exim and certbot configurations, and its Python mirror
(mailcert/redaction.py) against the same corpus, so the two cannot drift."""

from __future__ import annotations

import pathlib
import re
import subprocess

import pytest

from mailcert.gather.program import redaction_block
from mailcert.redaction import PLACEHOLDER, holds_secret, quoted_line, redact_line, redact_text

# (line, the secret that must not survive)
SECRET_LINES: list[tuple[str, str]] = [
    # Postfix LDAP / MySQL / PostgreSQL lookup tables
    ("bind_pw = Ld4pB1ndS3cret", "Ld4pB1ndS3cret"),
    ("bind_pw=Ld4pB1ndS3cret", "Ld4pB1ndS3cret"),
    ("password = mySqlPa55", "mySqlPa55"),
    ("dbpassword = pgPa55word", "pgPa55word"),
    ("  password   =   spaced out secret", "spaced out secret"),
    ("server_host = ldap://cn=admin:Ld4pInUrl@ldap.example.org:389", "Ld4pInUrl"),
    ("smtp_sasl_password_maps = static:relayuser:R3layPass", "R3layPass"),
    # certbot cli.ini and renewal confs
    ("eab-hmac-key = SGVsbG9FQUJobWFjS2V5", "SGVsbG9FQUJobWFjS2V5"),
    ("eab_hmac_key = SGVsbG9FQUJobWFjS2V5", "SGVsbG9FQUJobWFjS2V5"),
    ("dns_cloudflare_api_token = 0123456789abcdefCFTOKEN", "0123456789abcdefCFTOKEN"),
    ("dns_cloudflare_api_key = cfGlobalKey42", "cfGlobalKey42"),
    ("dns-rfc2136-credentials = /etc/letsencrypt/rfc2136-Cr3dsPath.ini", "Cr3dsPath"),
    ("dns_rfc2136_secret = tsigSecretBase64==", "tsigSecretBase64=="),
    ("aws_secret_access_key = AWSs3cretAccessKey", "AWSs3cretAccessKey"),
    ("apikey = Plain4piKey", "Plain4piKey"),
    ("api-key: Col0nApiKey", "Col0nApiKey"),
    ("auth_token = AuthT0kenValue", "AuthT0kenValue"),
    ("credentials = SomeCredential5", "SomeCredential5"),
    ("export CF_Token=ShellTok3n", "ShellTok3n"),
    # Exim
    ("hide mysql_servers = localhost/exim/exim/ExImMyPw", "ExImMyPw"),
    ("mysql_servers = localhost/exim/exim/ExImMyPw2", "ExImMyPw2"),
    ("pgsql_servers = db.example.org/mail/exim/ExImPgPw", "ExImPgPw"),
    ("ldap_default_servers = <; ldap://exim:ExImLdapPw@ldap.example.org", "ExImLdapPw"),
    ("hide ldap_default_servers = ldap1.example.org::389", "ldap1.example.org::389"),
    ("  server_condition = ${if eq{$auth3}{Expl1citPw}}", "Expl1citPw"),
    ("spamd_address = 127.0.0.1 783 pass=SpamdPw", "SpamdPw"),
    # Dovecot
    ("  args = scheme=CRYPT username_format=%u password=D0vArgsPw", "D0vArgsPw"),
    ("  args = /etc/dovecot/users password=D0vArgsPw2 user=vmail", "D0vArgsPw2"),
    ("ssl_key_password = Ke4Passphrase", "Ke4Passphrase"),
    ("ssl_key_password Ke4NoEquals", "Ke4NoEquals"),
    ("#ssl_key_password = Ke4Commented", "Ke4Commented"),
    ("connect = host=sql.example.com dbname=virtual user=virtual password=blargSecret", "blargSecret"),
    ("  uris = ldap://dovecot:D0vLdapPw@ldap.example.org", "D0vLdapPw"),
    ("  dnpass = D0vDnPass", "D0vDnPass"),
    ("  auth_bind_userdn = cn=x pwd=PwdInValue", "PwdInValue"),
    # credentials inside URLs, crypt hashes, shadow lines
    ("relayhost_url = smtps://relay:Url5ecret@smtp.example.net:465", "Url5ecret"),
    ("backend = redis://:RedisOnlyPw@127.0.0.1:6379/0", "RedisOnlyPw"),
    ("root:$6$rounds=5000$saltsalt$Q2hKZWNrVGhpc0hhc2g:19000:0:99999:7:::", "Q2hKZWNrVGhpc0hhc2g"),
    ("user@example.org:{SHA512-CRYPT}$6$abcdefgh$H4shH4shH4sh::::", "H4shH4shH4sh"),
    ("mail:$y$j9T$Yescrypt5alt$YescryptHashValue:19000::", "YescryptHashValue"),
    ("vmail:$2b$12$BcryptSaltAndHashHere:19000::", "BcryptSaltAndHashHere"),
    # certbot DNS plugin credentials (certbot-dns-linode, certbot-dns-ovh, certbot-dns-porkbun)
    ("dns_linode_key = L1nodeApiKey0123", "L1nodeApiKey0123"),
    ("dns_ovh_consumer_key = OvhC0nsumerKey", "OvhC0nsumerKey"),
    ("dns_porkbun_key=pk1_P0rkbunKey", "P0rkbunKey"),
]

# Files whose secret goes on past its first line, or sits under no key a rule names: (host path, text, the
# secrets that must not survive). Written after the forms the daemons' own documents use: Postfix's
# postconf(5) (a line starting with white space continues the one above, also in ldap_table(5) and
# mysql_table(5) files), Exim's spec ch. 6 (a trailing backslash continues, comment lines may sit inside),
# Dovecot's dovecot-sql.conf.ext (`password_query = \`) and Postfix's SASL_README (`[host]:587 user:pass`).
SECRET_FILES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "/etc/postfix/main.cf",
        "smtp_sasl_password_maps = static:relayuser:\n    S3cretContinued\n"
        "smtpd_tls_cert_file = /etc/ssl/mail.pem\n",
        ("S3cretContinued",),
    ),
    (
        "/etc/postfix/main.cf",
        "smtp_sasl_password_maps =\n    static:relayuser:Sec0ndLine\n\n  # a note\n    Af7erBlankAndNote\n",
        ("Sec0ndLine", "Af7erBlankAndNote"),
    ),
    (
        "/etc/postfix/ldap-users.cf",
        "server_host = ldap.example.org\nbind_pw =\n    LdapC0ntinued\nsearch_base = dc=example,dc=org\n",
        ("LdapC0ntinued",),
    ),
    (
        "/etc/postfix/mysql-virtual.cf",
        "user = postfix\npassword = first\n\tMysqlTabC0nt\nhosts = 127.0.0.1\n",
        ("MysqlTabC0nt",),
    ),
    (
        "/etc/exim4/exim4.conf",
        "hide mysql_servers = localhost/exim/exim/\\\n    ExImC0ntPw\nprimary_hostname = mail.example.org\n",
        ("ExImC0ntPw",),
    ),
    (
        "/etc/exim4/conf.d/auth/30_exim4-config_examples",
        "plain_server:\n  driver = plaintext\n  server_condition = ${if eq{$auth2}{admin}\\\n"
        "# the password\n    {${if eq{$auth3}{ExImAuthC0nt}}}}\n",
        ("ExImAuthC0nt",),
    ),
    (
        "/etc/exim4/exim4.conf.localmacros",
        "ROUTER_SMARTHOST_PASS = relay:\\\n   MacroC0nt\\\n   MacroC0ntAgain\nMAIN_TLS_ENABLE = yes\n",
        ("MacroC0nt", "MacroC0ntAgain"),
    ),
    (
        "/etc/dovecot/dovecot-sql.conf.ext",
        "driver = pgsql\nconnect = host=db dbname=mail \\\n  user=dovecot password=DovC0ntPw\n",
        ("DovC0ntPw",),
    ),
    (
        "/etc/dovecot/conf.d/10-ssl.conf",
        "ssl_key_password = \\\n  DovKeyC0nt\nssl_cert = </etc/ssl/mail.pem\n",
        ("DovKeyC0nt",),
    ),
    (
        "/etc/postfix/sasl_passwd",
        "[smtp.example.com]:587 relayuser:SaslMapPw1\nsmtp.example.net relay@example.net:SaslMapPw2\n"
        "#[old.example.com]:587 olduser:SaslMapPw3\n[smtp.example.org]:465 relayuser:\n    SaslMapPw4\n",
        ("SaslMapPw1", "SaslMapPw2", "SaslMapPw3", "SaslMapPw4"),
    ),
    (
        "/etc/postfix/sasl/sasl_passwd",
        "relay.example.com   user:Pass With Spaces5\n",
        ("Pass With Spaces5", "With Spaces5"),
    ),
    (
        "/etc/exim4/passwd.client",
        "*.example.com:relayuser:ExImClientPw6\nsmtp.example.net:login:pa:ss:7\n",
        ("ExImClientPw6", "pa:ss:7"),
    ),
]

# Continued values that hold no secret: the audit and fix read them as written.
PLAIN_CONTINUED_FILES: list[tuple[str, str]] = [
    (
        "/etc/postfix/main.cf",
        "smtpd_tls_chain_files =\n    /etc/ssl/private/mail.key,\n    /etc/ssl/certs/mail.pem\n"
        "smtpd_recipient_restrictions = permit_mynetworks,\n  reject_unauth_destination\n",
    ),
    (
        "/etc/postfix/master.cf",
        "relay unix - - n - - smtp\n  -o smtp_sasl_password_maps=static:u:pw\n"
        "  -o smtp_tls_security_level=encrypt\n  -o smtp_tls_wrappermode=yes\n",
    ),
    (
        "/etc/exim4/exim4.conf",
        "tls_certificate = ${if exists{/etc/ssl/$tls_in_sni.pem}\\\n  {/etc/ssl/$tls_in_sni.pem}{/etc/exim4/exim.crt}}\n"
        "hide tls_privatekey = /etc/exim4/exim.key\\\n  \n",
    ),
    (
        "/etc/dovecot/conf.d/10-ssl.conf",
        "local_name mail.example.org {\n  ssl_key_password = x\n  ssl_cert = </etc/ssl/mail.pem\n"
        "  ssl_key = </etc/ssl/mail.key\n}\n",
    ),
]

# Lines the audit reads (and fix may edit): they must reach the control machine as written.
TLS_LINES = [
    "smtpd_tls_cert_file = /etc/letsencrypt/live/mail.example.org/fullchain.pem",
    "smtpd_tls_key_file = /etc/letsencrypt/live/mail.example.org/privkey.pem",
    "smtpd_tls_chain_files = /etc/ssl/private/mail.key, /etc/ssl/certs/mail.pem",
    "smtpd_tls_eccert_file = /etc/ssl/ec.pem",
    "smtpd_tls_eckey_file = /etc/ssl/ec.key",
    "smtpd_tls_CAfile = /etc/ssl/certs/ca-certificates.crt",
    "smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt",
    "smtpd_tls_security_level = may",
    "smtpd_tls_wrappermode = yes",
    "tls_server_sni_maps = hash:/etc/postfix/sni_maps",
    "  -o smtpd_tls_wrappermode=yes",
    "mail.example.org /etc/ssl/private/mail.key /etc/ssl/certs/mail.pem",
    "ssl = required",
    "ssl_cert = </etc/letsencrypt/live/mail.example.org/fullchain.pem",
    "ssl_key = </etc/letsencrypt/live/mail.example.org/privkey.pem",
    "  ssl_alt_cert = </etc/ssl/ecdsa.pem",
    "  ssl_alt_key = </etc/ssl/ecdsa.key",
    "ssl_server_cert_file = /etc/ssl/mail.pem",
    "ssl_server_key_file = /etc/ssl/mail.key",
    "ssl_min_protocol = TLSv1.2",
    "local_name mail.example.org {",
    "passdb {",
    "passdb passwd-file {",
    "  driver = passwd-file",
    "}",
    "tls_certificate = /etc/exim4/exim.crt",
    "tls_privatekey = /etc/exim4/exim.key",
    "tls_certificate = ${if exists{/etc/ssl/$tls_in_sni.pem}{/etc/ssl/$tls_in_sni.pem}{/etc/exim4/exim.crt}}",
    "hide tls_privatekey = /etc/exim4/exim.key",
    "tls_on_connect_ports = 465",
    "tls_advertise_hosts = *",
    "daemon_smtp_ports = 25 : 465 : 587",
    "MAIN_TLS_ENABLE = yes",
    "cert = /etc/letsencrypt/live/mail.example.org/cert.pem",
    "privkey = /etc/letsencrypt/live/mail.example.org/privkey.pem",
    "chain = /etc/letsencrypt/live/mail.example.org/chain.pem",
    "fullchain = /etc/letsencrypt/live/mail.example.org/fullchain.pem",
    "key_type = ecdsa",
    "authenticator = webroot",
    "server = https://acme-v02.api.letsencrypt.org/directory",
    "renew_hook = systemctl reload postfix dovecot",
    "deploy-hook = /usr/local/bin/reload-mail",
    "0 */12 * * * root test -x /usr/bin/certbot && certbot -q renew",
    "myhostname = mail.example.org",
    "smtpd_sasl_auth_enable = yes",
]


def sh_redact(shell: str, lines: list[str], path: str = "") -> list[str]:
    """The lines through gather.sh's own `redact`, under `shell`, as the host runs it (LC_ALL=C), for a file
    at `path` (command output when empty)."""
    return sh_redact_text(shell, "".join(f"{line}\n" for line in lines), path).split("\n")[:-1]


def sh_redact_text(shell: str, text: str, path: str = "") -> str:
    """A whole file's text through gather.sh's `redact PATH`, as gather.sh sends it."""
    program = "LC_ALL=C; export LC_ALL\n" + redaction_block() + 'redact "$1"\n'
    done = subprocess.run(
        [shell, "-c", program, "mailcert-redact", path],
        input=text.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    return done.stdout.decode()


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_no_secret_survives_the_host_rule(shell: str) -> None:
    out = sh_redact(shell, [line for line, _secret in SECRET_LINES])
    assert len(out) == len(SECRET_LINES)
    for (line, secret), sent in zip(SECRET_LINES, out, strict=True):
        assert secret not in sent, f"{line!r} sent as {sent!r}"
        assert PLACEHOLDER in sent, f"{line!r} sent as {sent!r}: the line must say it was hidden"


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_tls_lines_the_audit_and_fix_need_are_sent_as_written(shell: str) -> None:
    assert sh_redact(shell, TLS_LINES) == TLS_LINES


def test_keys_are_kept_so_the_audit_still_sees_the_setting() -> None:
    out = sh_redact("dash", ["bind_pw = Ld4pB1ndS3cret", "ssl_key_password = Ke4Passphrase"])
    assert out == ["bind_pw = (hidden-by-mailcert)", "ssl_key_password = (hidden-by-mailcert)"]


def test_url_keeps_user_and_host_and_hides_the_password() -> None:
    line = "  uris = ldap://dovecot:D0vLdapPw@ldap.example.org"
    assert sh_redact("dash", [line]) == ["  uris = ldap://dovecot:(hidden-by-mailcert)@ldap.example.org"]


def test_every_tls_setting_fix_edits_stays_editable() -> None:
    """An edit to a hidden line is refused (edit_recipe): no setting fix writes may be hidden by a rule."""
    names: set[str] = set()
    import mailcert.fix

    for entry in pathlib.Path(mailcert.fix.__file__).parent.rglob("*.py"):
        if entry.name.endswith(".py"):
            found = re.findall(
                r"\"((?:smtpd?_tls|tls|ssl)_[a-z_A-Z]+|ssl|local_name|MAIN_TLS_[A-Z_]+|[a-z]+_hook)\"",
                entry.read_text(),
            )
            names.update(found)
    assert {
        "smtpd_tls_chain_files",
        "ssl_cert",
        "tls_certificate",
        "tls_privatekey",
        "MAIN_TLS_PRIVATEKEY",
    } <= names
    lines = [f"{name} = /etc/ssl/mail.example.org/{name}.pem" for name in sorted(names)]
    assert sh_redact("dash", lines) == lines
    assert not any(holds_secret(line) for line in lines)


def test_python_mirror_equals_the_host_rule_on_the_corpus() -> None:
    lines = [line for line, _secret in SECRET_LINES] + TLS_LINES
    assert [redact_line(line) for line in lines] == sh_redact("dash", lines)
    assert all(holds_secret(line) for line, _secret in SECRET_LINES)
    assert not any(holds_secret(line) for line in TLS_LINES)


def test_a_quoted_line_never_repeats_a_secret() -> None:
    for line, secret in SECRET_LINES:
        assert secret not in quoted_line(line)
    assert quoted_line("smtpd_tls_security_level = may") == "`smtpd_tls_security_level = may`"


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_a_continued_secret_is_hidden_on_every_line_it_goes_on(shell: str) -> None:
    for path, text, secrets in SECRET_FILES:
        sent = sh_redact_text(shell, text, path)
        assert sent.count("\n") == text.count("\n"), (path, sent)
        assert [s for s in secrets if s in sent] == [], (path, sent)
        assert sent == redact_text(text, path), path


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_a_continued_value_without_a_secret_is_sent_as_written(shell: str) -> None:
    for path, text in PLAIN_CONTINUED_FILES:
        sent = sh_redact_text(shell, text, path)
        kept = [line for line in text.split("\n") if "password" not in line]
        assert [line for line in sent.split("\n") if "password" not in line] == kept, (path, sent)
        assert sent == redact_text(text, path), path


def test_continued_lines_keep_their_place_so_the_parsers_join_them_as_before() -> None:
    exim = (
        "PASSWDLINE=${sg{\\\n    ${lookup{$host}nwildlsearch{CONFDIR/passwd.client}}\\\n    {x}}\nnext = 1\n"
    )
    assert sh_redact_text("dash", exim, "/etc/exim4/exim4.conf.template") == (
        "PASSWDLINE= (hidden-by-mailcert) \\\n    (hidden-by-mailcert) \\\n    (hidden-by-mailcert)\nnext = 1\n"
    )
    postfix = "smtp_sasl_password_maps = static:u:\n    pw\nmyhostname = mx\n"
    assert sh_redact_text("dash", postfix, "/etc/postfix/main.cf") == (
        "smtp_sasl_password_maps = (hidden-by-mailcert)\n    (hidden-by-mailcert)\nmyhostname = mx\n"
    )


def test_a_sasl_password_map_keeps_its_lookup_keys_only() -> None:
    text = "[smtp.example.com]:587 relayuser:Pw1\nsmtp.example.net Pw2\n\n# relay\n"
    assert sh_redact_text("dash", text, "/etc/postfix/sasl_passwd") == (
        "[smtp.example.com]:587 relayuser: (hidden-by-mailcert)\n(hidden-by-mailcert)\n\n# (hidden-by-mailcert)\n"
    )
    # a Postfix lookup table's own configuration named after the map is read by the .cf rules
    table = "hosts = db\npassword = Pw3\nquery = SELECT password FROM relay WHERE host='%s'\n"
    assert sh_redact_text("dash", table, "/etc/postfix/mysql_sasl_passwd.cf") == (
        "hosts = db\npassword = (hidden-by-mailcert)\nquery = SELECT password FROM relay WHERE host='%s'\n"
    )
