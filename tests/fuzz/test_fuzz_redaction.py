"""The host's redaction rule (gather.sh `redact`) and its Python mirror on generated lines: the two print
the same, a secret written in any covered form never survives, and no finding repeats a secret line."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.hostfs import LocalRoot
from mailcert.pki.trust import TrustStore
from mailcert.redaction import redact_line, redact_text
from tests.fuzz.strategies import no_hang
from tests.unit.test_redaction_rules import SECRET_LINES, TLS_LINES, sh_redact, sh_redact_text

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SPACE = st.sampled_from(["", " ", "  ", "\t", " \t "])
KEYS = st.sampled_from(
    [
        "password", "bind_pw", "dbpassword", "ssl_key_password", "eab-hmac-key", "dns_cloudflare_api_token",
        "api_key", "ApiKey", "credentials", "auth_token", "aws_secret_access_key", "PASSWD", "Pwd", "dnpass",
        "smtpd_tls_cert_file", "ssl_cert", "tls_certificate", "connect", "mysql_servers", "server_condition",
        "hide mysql_servers", "hide tls_privatekey", "export CF_Token", "args", "uris", "passdb", "local_name",
    ]
)  # fmt: skip
PIECES = st.sampled_from(
    [
        "=", ":", " = ", "password=", "pw=", "secret=", "token=", "://", "user:", "@", "$6$", "$y$", "$2b$",
        "saltsalt$", "{", "}", "<", "/etc/ssl/", "#", "\\", "`", "\"", "'", "ldap://a:b@c", "host=x",
    ]
)  # fmt: skip
FREE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\x00"), max_size=30)
LINE = st.one_of(
    st.builds(lambda i, k, s, v: f"{i}{k}{s}{v}", SPACE, KEYS, st.sampled_from(["=", ":", " ", " = "]), FREE),
    st.lists(st.one_of(PIECES, FREE, KEYS), max_size=8).map("".join),
    st.sampled_from([line for line, _secret in SECRET_LINES] + TLS_LINES),
)
SECRET = st.text(
    st.sampled_from("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"), min_size=6, max_size=20
)
SECRET_FORMS = [
    "{k} = S3{s}",
    "{k}=S3{s}",
    "{k}: S3{s}",
    "  {k}   S3{s}",
    "args = scheme=CRYPT {k}=S3{s} user=vmail",
    "uri = ldap://binduser:S3{s}@ldap.example.org",
    "relay = smtps://u:S3{s}@smtp.example.net:465",
    "root:$6$saltsalt$S3{s}:19000:0:99999:7:::",
    "hide mysql_servers = localhost/exim/exim/S3{s}",
    "connect = host=db user=u password=S3{s}",
]
SECRET_KEYS = st.sampled_from(
    ["password", "bind_pw", "dbpassword", "eab-hmac-key", "api_key", "auth_token", "secret"]
)


@given(st.lists(LINE, min_size=1, max_size=25))
def test_python_mirror_prints_what_the_host_rule_prints(lines: list[str]) -> None:
    with no_hang():
        assert [redact_line(line) for line in lines] == sh_redact("dash", lines)


@given(st.lists(st.tuples(st.sampled_from(SECRET_FORMS), SECRET_KEYS, SECRET), min_size=1, max_size=10))
def test_a_secret_in_any_covered_form_never_survives(forms: list[tuple[str, str, str]]) -> None:
    lines = [form.format(k=key, s=secret) for form, key, secret in forms]
    with no_hang():
        sent = "\n".join(sh_redact("dash", lines))
    for _form, _key, secret in forms:
        assert f"S3{secret}" not in sent


@given(
    st.lists(st.tuples(st.sampled_from(SECRET_FORMS), SECRET_KEYS, SECRET), min_size=1, max_size=4),
    st.lists(LINE, max_size=6),
    st.sampled_from(["/etc/postfix/main.cf", "/etc/dovecot/dovecot.conf", "/etc/exim4/exim4.conf"]),
)
def test_no_finding_repeats_a_secret_line(
    forms: list[tuple[str, str, str]], noise: list[str], where: str
) -> None:
    secrets = [f"S3{secret}" for _form, _key, secret in forms]
    lines = [form.format(k=key, s=secret) for form, key, secret in forms]
    text = "\n".join(["# generated", *noise, *lines, *noise]) + "\n"
    with tempfile.TemporaryDirectory() as tmp, no_hang():
        target = Path(tmp) / where.lstrip("/")
        target.parent.mkdir(parents=True)
        target.write_text(text, encoding="utf-8", errors="replace")
        options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([])))
        host = lint_host(LocalRoot(tmp), name="mx-fuzz", options=options)
    shown = " ".join([host.error or "", *(f"{f.message} {f.fix}" for f in host.findings)])
    assert not any(secret in shown for secret in secrets), shown


# Files of every kind the rule tells apart by name: Postfix (.cf), master.cf, a SASL map, the rest, commands.
PATHS = st.sampled_from(
    [
        "/etc/postfix/main.cf", "/etc/postfix/ldap-users.cf", "/etc/postfix/master.cf", "/etc/postfix/sasl_passwd",
        "/etc/mail/SASL-Passwd.relay", "/etc/exim4/passwd.client", "/etc/exim4/exim4.conf",
        "/etc/dovecot/dovecot-sql.conf.ext", "/etc/letsencrypt/cli.ini", "",
    ]
)  # fmt: skip
# Lines that start, go on or break a continued value: indented, ending in a backslash, comments, blanks.
CONTINUED = st.one_of(
    LINE,
    st.builds(lambda i, body, end: f"{i}{body}{end}", st.sampled_from([" ", "\t", "    ", "#", "  #", ""]),
              st.one_of(FREE, KEYS), st.sampled_from(["", "\\", " \\", "\\ ", "\r"])),
    st.sampled_from(["", " ", "\t", "#", "\\", "[smtp.example.com]:587 u:p", "a:b:c", "[::1]:25 x"]),
)  # fmt: skip


@given(st.lists(CONTINUED, min_size=1, max_size=25), PATHS, st.booleans())
def test_python_mirror_continues_a_hidden_value_as_the_host_rule_does(
    lines: list[str], path: str, final_newline: bool
) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    with no_hang():
        assert redact_text(text, path) == sh_redact_text("dash", text, path)


CONTINUED_FORMS = [
    ("/etc/postfix/main.cf", "{k} = first\n    S3{s}"),
    ("/etc/postfix/main.cf", "{k} =\n\n  # note\n\tS3{s} more"),
    ("/etc/postfix/mysql-virtual.cf", "{k} = x\n S3{s}"),
    ("/etc/exim4/exim4.conf", "{k} = x\\\n  S3{s}"),
    ("/etc/exim4/exim4.conf", "{k} = x \\\n# note\n  a\\\n  S3{s}"),
    ("/etc/dovecot/dovecot-sql.conf.ext", "{k} = \\\n  S3{s}"),
    ("", "{k}: x\\\n S3{s}"),
    ("/etc/postfix/sasl_passwd", "[smtp.example.com]:587 user:S3{s}"),
    ("/etc/postfix/sasl_passwd", "smtp.example.com S3{s}"),
    ("/etc/exim4/passwd.client", "*.example.com:{k}:S3{s}"),
]


@given(
    st.lists(st.tuples(st.sampled_from(CONTINUED_FORMS), SECRET_KEYS, SECRET), min_size=1, max_size=6),
    st.lists(LINE, max_size=4),
)
def test_a_secret_on_a_continuation_line_never_survives(
    forms: list[tuple[tuple[str, str], str, str]], noise: list[str]
) -> None:
    for (path, form), key, secret in forms:
        text = "\n".join([*noise, form.format(k=key, s=secret), *noise]) + "\n"
        with no_hang():
            sent = sh_redact_text("dash", text, path)
        assert f"S3{secret}" not in sent, (path, sent)
        assert sent.count("\n") == text.count("\n")
