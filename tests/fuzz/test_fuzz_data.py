"""Property: the inventory (YAML, INI, vars files), PEM bundles, certificates, certbot's files, the gather
document and `explain` turn any input into a result or a MailcertError line; never another exception,
never a hang."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import example, given
from hypothesis import strategies as st

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.errors import MailcertError
from mailcert.explain import explain, no_match_reason, render_text
from mailcert.gather.host import GatheredHost, pem_blocks
from mailcert.hostfs import LocalRoot
from mailcert.inventory import load_inventory
from mailcert.pem import scan_pem
from mailcert.pki import certinfo
from mailcert.pki.chain import build_path, order_problems
from mailcert.pki.names import covers, name_matches
from mailcert.pki.trust import TrustStore, load_bundle
from mailcert.services.certbot.conf import ConfSyntaxError, parse_renewal_conf
from mailcert.services.certbot.parser import read_certbot
from tests.fuzz.strategies import HOSTILE_WORDS, content, junk_bytes, no_hang, text_of, tmp_root, write
from tests.pki import NOW, TestPKI

YAML = [
    "all:",
    "hosts:",
    "children:",
    "vars:",
    "mail:",
    "mx1:",
    "  ",
    "    ",
    "- ",
    "ansible_host:",
    "ansible_port:",
    "ansible_user:",
    "ansible_become:",
    "ansible_become_password:",
    "ansible_ssh_private_key_file:",
    "mailcert_hostnames:",
    "mailcert_known_hosts:",
    "mailcert_roles:",
    "&a",
    "*a",
    "<<: *a",
    "!!python/object/apply:os.system",
    "!vault |",
    "[",
    "]",
    "{",
    "}",
    "? ",
    "---",
    "...",
    "%YAML 1.1",
    "null",
    "~",
    "yes",
    "0o777",
    "1e400",
]
INI = [
    "[mail]",
    "[mail:children]",
    "[mail:vars]",
    "[all:vars]",
    "[",
    "]",
    "mx1",
    "mx[01:03]",
    "h[a:z]",
    "h[0:99999]",
    "h[0:9][0:9]",
    "ansible_host=",
    "ansible_port=",
    "ansible_become=true",
    "ansible_become_password=",
    "mailcert_hostnames=",
    "['a', 'b']",
    "{'smtp': ['x']}",
    "'",
    '"',
    "#",
    ";",
]


def _inventory_files(data: st.DataObject, root: Path, words: list[str], name: str) -> None:
    write(root, name, data.draw(content(words)))
    if data.draw(st.booleans()):
        write(root, "group_vars/all.yml", data.draw(content(YAML)))
        write(root, "host_vars/mx1", data.draw(content(YAML)))


@given(st.data(), st.sampled_from(["hosts.yml", "hosts.ini", "hosts", "inventory.json"]))
def test_inventory_loads_or_says_why(data: st.DataObject, name: str) -> None:
    with tmp_root() as root:
        _inventory_files(data, root, YAML if name.endswith(("yml", "json")) else INI + YAML, name)
        try:
            with no_hang():
                inventory = load_inventory(root)
                inventory.select(data.draw(st.sampled_from([None, "all", "mail:!mx1", "mx*", "&x", "~["])))
        except MailcertError as exc:
            assert exc.line().strip()
            return
        for host in inventory.hosts:
            assert isinstance(host.name, str) and 0 < host.port < 65536


REAL_CERTS = TestPKI("Fuzz")
LEAF = REAL_CERTS.leaf()
LEAF_DER = LEAF.cert.public_bytes(serialization.Encoding.DER)
PEM_LABELS = ["CERTIFICATE", "X509 CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]
PEM_LABELS += ["ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY", "DH PARAMETERS", "TRUSTED CERTIFICATE", "X"]


def _flip(data: bytes, positions: list[int]) -> bytes:
    mutable = bytearray(data)
    for position in positions:
        mutable[position % len(mutable)] ^= 0xFF
    return bytes(mutable)


@st.composite
def pem_bundles(draw: st.DrawFn) -> bytes:
    """Bundles of real and broken blocks: mutated DER, junk bodies, mismatched END lines, CRLF, NULs."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(0, 4))):
        label = draw(st.sampled_from(PEM_LABELS))
        der = draw(
            st.one_of(
                st.just(LEAF_DER),
                st.lists(st.integers(0, 4000), max_size=4).map(lambda p: _flip(LEAF_DER, p)),
                st.binary(max_size=200),
            )
        )
        body = base64.encodebytes(der)
        body = draw(st.sampled_from([body, body.replace(b"\n", b"\r\n"), body[:-9], body + b"!!", b"\x00"]))
        end = draw(st.sampled_from([label, label, "OTHER"]))
        parts.append(f"-----BEGIN {label}-----\n".encode() + body + f"-----END {end}-----\n".encode())
        if draw(st.booleans()):
            parts.append(draw(junk_bytes))
    if draw(st.booleans()):
        parts.append(LEAF.key_pem())
    return b"".join(parts)


@given(st.one_of(pem_bundles(), junk_bytes))
def test_pem_bundles_give_blocks_or_a_reason(data: bytes) -> None:
    with no_hang():
        blocks, reason = scan_pem(data)
        assert blocks or reason
        certs = []
        for block in blocks:
            if block.der is not None:
                with contextlib.suppress(ValueError):  # cryptography refuses it: the checks say corrupt
                    certs.append(x509.load_der_x509_certificate(block.der))
        for cert in certs:
            certinfo.describe(cert)
            certinfo.san_dns_names(cert)
            certinfo.key_info(cert)
            certinfo.server_auth_allowed(cert)
            certinfo.signature_hash_name(cert)
        if certs:
            build_path(certs, TrustStore.of(load_bundle(data)), certs)
            order_problems(certs)
        pem_blocks(data)  # the gather program's stream reader on the same bytes


@given(text_of(["renew_before_expiry", "version", "archive_dir", "cert", "privkey", "[renewalparams]"]))
def test_renewal_conf_parses_or_names_the_line(text: str) -> None:
    with no_hang(), contextlib.suppress(ConfSyntaxError):
        parse_renewal_conf(text)


CERTBOT = ["renew_hook", "deploy_hook", "post_hook", "pre_hook", "authenticator", "webroot_path"]
CERTBOT += ["[renewalparams]", "[[webroot_map]]", "cert = /etc/letsencrypt/live/x/cert.pem", "= ", "[["]


@given(content(CERTBOT), content(CERTBOT), junk_bytes, st.booleans())
def test_certbot_tree_gives_state_never_a_traceback(
    conf: bytes, cli_ini: bytes, hook: bytes, loop: bool
) -> None:
    with tmp_root() as root:
        write(root, "/etc/letsencrypt/renewal/mail.example.test.conf", conf)
        write(root, "/etc/letsencrypt/cli.ini", cli_ini)
        write(root, "/etc/letsencrypt/renewal-hooks/deploy/reload", hook)
        write(root, "/etc/letsencrypt/live/mail.example.test/cert.pem", hook)
        write(root, "/etc/cron.d/certbot", conf)
        write(root, "/var/log/letsencrypt/letsencrypt.log", cli_ini)
        if loop:
            (root / "etc/letsencrypt/live/loop").symlink_to("loop")
        with no_hang():
            read_certbot(LocalRoot(root))


GATHER_KINDS = ["meta", "path", "text", "pem", "nopem", "toolarge", "unreadable", "walked", "cmd", "cmderr"]
GATHER_KINDS += ["proc", "proc-net", "x"]
GATHER_FIELDS = ["t=f", "t=d", "t=l", "t=o", "l=1", "m=755", "m=zz", "u=0", "u=-1", "g=x", "mt=1767323045"]
GATHER_FIELDS += ["mt=9" * 400, "s=99999999999", "on=root", "gn=", "mf=03:04:05.000000000", "complete=1", "="]
GATHER_NAMES = ["/etc/postfix/main.cf", "/etc/dovecot/dovecot.conf", "/etc/exim.conf", "/etc/ssl/a.pem", "/"]
GATHER_NAMES += [
    "clock",
    "root",
    "uid",
    "postconf",
    "doveconf",
    "/etc/../../x",
    "",
    "rel/path",
    "/etc/postfix",
]


@st.composite
def gather_documents(draw: st.DrawFn) -> str:
    lines = ["%MAILCERT-GATHER 1"]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(GATHER_KINDS))
        fields = draw(st.lists(st.sampled_from(GATHER_FIELDS), max_size=5))
        lines.append(" ".join(["%R", kind, *fields]))
        lines.append("%P " + draw(st.one_of(st.sampled_from(GATHER_NAMES), st.sampled_from(HOSTILE_WORDS))))
        body = draw(
            st.one_of(st.binary(max_size=200), st.sampled_from([b"1795456391", b"%KEY X 0\n%KEYERR"]))
        )
        if draw(st.booleans()):
            body = draw(pem_bundles())
        encoded = base64.encodebytes(body).decode()
        lines += draw(st.sampled_from([encoded.splitlines(), ["!!notbase64"], []]))
        if draw(st.booleans()):
            lines.append("%L " + draw(st.sampled_from(GATHER_NAMES)))
        lines.append(draw(st.sampled_from(["%E", "%E", "%E", "%X"])))
    lines.append(draw(st.sampled_from(["%END", "%END", ""])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "\r\n", ""]))


RECORDED = (Path(__file__).parents[1] / "data/gather/planted-host.txt").read_text()


@given(st.one_of(gather_documents(), st.text(max_size=300).map(lambda t: "%MAILCERT-GATHER 1\n" + t)))
@example(RECORDED)
def test_gather_document_gives_a_host_or_a_host_error(text: str) -> None:
    try:
        with no_hang():
            host = GatheredHost.from_output(text, name="mx-fuzz")
    except MailcertError as exc:
        assert exc.line().startswith("mx-fuzz")
        return
    with no_hang():
        for path in ("/etc/postfix/main.cf", "/etc/ssl/a.pem", "/", "/etc/../../x", "rel/path"):
            host.stat(path), host.pem_file(path), host.read_config(path), host.listdir(path)
        host.glob("/etc/*/*.c*f")
        host.clock, host.commands, host.versions, host.daemons, host.units, host.listening_ports  # noqa: B018
        options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([])))
        with contextlib.suppress(MailcertError):
            lint_host(host, name="mx-fuzz", options=options)


@given(st.data())
def test_gather_document_cut_anywhere_is_a_host_error_or_parses(data: st.DataObject) -> None:
    lines = RECORDED.splitlines()
    cut = data.draw(st.integers(0, len(lines)))
    damaged = lines[:cut] + data.draw(
        st.lists(st.sampled_from([*lines[:40], "%R", "%P", "%E", "x"]), max_size=4)
    )
    with contextlib.suppress(MailcertError), no_hang():
        GatheredHost.from_output("\n".join(damaged), name="mx-fuzz")


EXPLAIN = ["0x10", "flags", "-9813", "errSSLXCertChainInvalid", "certificate", "expired", "hostname", "K-9"]
EXPLAIN += ["Thunderbird", "SEC_ERROR_UNKNOWN_ISSUER", "0x80000000", "-2147483648", "alert", "handshake"]


@given(st.one_of(text_of(EXPLAIN), st.text(max_size=500)))
@example("flags " + "9" * 5000)
@example("0x" + "f" * 5000)
@example("verify error:num=" + "9" * 5000)
def test_explain_answers_any_text(query: str) -> None:
    with no_hang():
        try:
            explanation = explain(query)
        except MailcertError:
            return
        render_text(explanation)
        explanation.to_json()
        no_match_reason(query)


NAME_WORDS = ["*", ".", "mail", "example", "test", "xn--", "bücher", "[", "]", ":", "::1", "127.0.0.1", "-"]


@given(st.lists(text_of(NAME_WORDS, max_size=8), max_size=4), text_of(NAME_WORDS, max_size=8))
def test_name_matching_answers_for_any_names(sans: list[str], hostname: str) -> None:
    with no_hang():
        assert isinstance(covers(sans, ["127.0.0.1", "::1"], hostname), bool)
        for san in sans:
            name_matches(san, hostname)
