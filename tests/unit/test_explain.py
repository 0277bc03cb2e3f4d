"""`mailcert explain`: Outlook flag values and sums, Windows codes, the seed phrasings of issue 5 and
paraphrases written for this test (not copied from the symptoms table), and the CLI contract."""

from __future__ import annotations

import itertools
import json

import pytest

from mailcert.cli import build_program
from mailcert.explain import decode_flags, explain
from mailcert.symptoms import PHRASINGS

# The WinHTTP secure-failure flags, from the reference (mail-tls-config.md §6), with the check a helpdesk
# should look at first for each (decided by hand from what each flag means).
FLAGS = {
    0x1: ("CERT_REV_FAILED", "cert.untrusted"),
    0x2: ("INVALID_CERT", "cert.weak-signature"),
    0x4: ("CERT_REVOKED", "tls.stale"),
    0x8: ("INVALID_CA", "cert.chain-incomplete"),
    0x10: ("CERT_CN_INVALID", "cert.name-mismatch"),
    0x20: ("CERT_DATE_INVALID", "cert.expired"),
    0x40: ("CERT_WRONG_USAGE", "cert.wrong-usage"),
    0x80000000: ("SECURITY_CHANNEL_ERROR", "config.legacy-protocols"),
}


def causes(text: str) -> list[str]:
    return [c.check for c in explain(text).causes]


@pytest.mark.parametrize("bit", sorted(FLAGS))
def test_every_single_flag(bit: int) -> None:
    name, first_check = FLAGS[bit]
    for written in (hex(bit), str(bit), f"0x{bit:08X}"):
        result = explain(written)
        assert result.outlook_flags == (name,), written
        assert first_check in [c.check for c in result.causes], written


def test_every_sum_of_flags_decodes_to_exactly_its_flags() -> None:
    bits = sorted(FLAGS)
    for size in range(1, len(bits) + 1):
        for combination in itertools.combinations(bits, size):
            value = sum(combination)
            expected = tuple(FLAGS[b][0] for b in combination)
            assert decode_flags(value) == expected
            for written in (hex(value), str(value)):
                result = explain(written)
                assert result.outlook_flags == expected, written
                assert {FLAGS[b][1] for b in combination} <= {c.check for c in result.causes}, written


def test_seed_example_0x30() -> None:
    result = explain("0x30")
    assert result.outlook_flags == ("CERT_CN_INVALID", "CERT_DATE_INVALID")
    assert {"cert.name-mismatch", "cert.expired"} <= set(causes("0x30"))
    assert explain("48").outlook_flags == result.outlook_flags


@pytest.mark.parametrize("value", ["0x100", "0x80000100", "0", "0x3000"])
def test_values_that_are_not_flag_sums(value: str) -> None:
    assert explain(value).outlook_flags == ()


@pytest.mark.parametrize(
    ("code", "flag", "check"),
    [
        ("0x80090322", "CERT_CN_INVALID", "cert.name-mismatch"),  # SEC_E_WRONG_PRINCIPAL
        ("0x800B0101", "CERT_DATE_INVALID", "cert.expired"),  # CERT_E_EXPIRED
        ("0x80090325", "INVALID_CA", "cert.untrusted"),  # SEC_E_UNTRUSTED_ROOT
        ("0x800B0110", "CERT_WRONG_USAGE", "cert.wrong-usage"),  # CERT_E_WRONG_USAGE
        ("12038", "CERT_CN_INVALID", "cert.name-mismatch"),  # ERROR_INTERNET_SEC_CERT_CN_INVALID
        ("12037", "CERT_DATE_INVALID", "cert.expired"),
        ("12045", "INVALID_CA", "cert.chain-incomplete"),
        ("12057", "CERT_REV_FAILED", "cert.untrusted"),
        ("12170", "CERT_REVOKED", "tls.stale"),
        ("12179", "CERT_WRONG_USAGE", "cert.wrong-usage"),
        ("12157", "SECURITY_CHANNEL_ERROR", "config.legacy-protocols"),
        ("ERROR_INTERNET_SEC_CERT_CN_INVALID", "CERT_CN_INVALID", "cert.name-mismatch"),
        ("SEC_E_WRONG_PRINCIPAL", "CERT_CN_INVALID", "cert.name-mismatch"),
        ("CERT_E_EXPIRED", "CERT_DATE_INVALID", "cert.expired"),
        ("WINHTTP_CALLBACK_STATUS_FLAG_INVALID_CA", "INVALID_CA", "cert.chain-incomplete"),
    ],
)
def test_windows_codes(code: str, flag: str, check: str) -> None:
    result = explain(code)
    assert flag in result.outlook_flags
    assert check in [c.check for c in result.causes]


# The seed phrasings named in issue 5, each with the check it must lead to.
SEEDS = [
    ("The target principal name is incorrect", "cert.name-mismatch"),
    ("Cannot Verify Server Identity", "cert.name-mismatch"),
    ("SEC_ERROR_UNKNOWN_ISSUER", "cert.chain-incomplete"),
    ("SEC_ERROR_EXPIRED_CERTIFICATE", "cert.expired"),
    ("Add Security Exception", "cert.name-mismatch"),
    ("MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT", "cert.self-signed"),
    ("unable to get local issuer certificate", "cert.chain-incomplete"),
    ("certificate has expired", "cert.expired"),
    ("hostname mismatch", "cert.name-mismatch"),
    ("wrong version number", "config.mode-mismatch"),
    ("454 4.7.0 TLS not available due to local problem", "tls.starttls-unavailable"),
    ("454 4.7.0 TLS not available due to local problem", "key.mismatch"),
]


@pytest.mark.parametrize(("text", "check"), SEEDS)
def test_seed_phrasings(text: str, check: str) -> None:
    assert check in causes(text)


@pytest.mark.parametrize(("text", "check"), SEEDS)
def test_seed_phrasings_survive_case_punctuation_quotes_and_line_breaks(text: str, check: str) -> None:
    mangled = "  “" + text.upper().replace(" ", "\n ", 1) + "!!”  "
    assert check in causes(mangled)


@pytest.mark.parametrize(
    ("text", "check"),
    [
        # whole dialogs as pasted, with names and framing around the reason
        (
            "Internet Security Warning\nThe server you are connected to is using a security certificate that "
            "cannot be verified.\nThe target principal name is incorrect.\nDo you want to continue using this "
            "server?",
            "cert.name-mismatch",
        ),
        (
            "There is a problem with the proxy server's security certificate. The name on the security "
            "certificate is invalid or does not match the name of the target site mail.example.com.",
            "cert.name-mismatch",
        ),
        ("The identity of “mail.example.com” cannot be verified by Mail.", "cert.name-mismatch"),
        ("verify error:num=20:unable to get local issuer certificate", "cert.chain-incomplete"),
        ("verify error:num=62:hostname mismatch", "cert.name-mismatch"),
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", "config.mode-mismatch"),
        (
            "javax.net.ssl.SSLHandshakeException: java.security.cert.CertPathValidatorException: "
            "Trust anchor for certification path not found.",
            "cert.chain-incomplete",
        ),
        ("Thunderbird: SSL_ERROR_BAD_CERT_DOMAIN", "cert.name-mismatch"),
        (
            "imap-login: Fatal: Can't load private ssl_key: Key is for a different cert than ssl_cert",
            "key.mismatch",
        ),
        (
            "postfix/smtpd[81]: warning: cannot get RSA private key from file x: disabling TLS support",
            "key.missing",
        ),
        ("SSL_accept() failed: error:0A000418:SSL routines::tlsv1 alert unknown ca", "cert.chain-incomplete"),
        ("Unrecognized Certificate: The server presented an invalid SSL certificate.", "cert.name-mismatch"),
        ("A certificate chain could not be built to a trusted root authority.", "cert.chain-incomplete"),
        # partial pastes
        ("principal name is incorrect", "cert.name-mismatch"),
        ("not available due to local problem", "tls.starttls-unavailable"),
        ("local issuer certificate", "cert.chain-incomplete"),
    ],
)
def test_real_pastes_and_fragments(text: str, check: str) -> None:
    assert check in causes(text)


def test_openssl_alert_names_are_not_protocol_versions() -> None:
    assert "config.legacy-protocols" not in causes("tlsv1 alert unknown ca")
    assert "config.legacy-protocols" in causes("tlsv1 alert protocol version")


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("outlook says the principal name is wrong", "cert.name-mismatch"),
        ("the name on the certificate doesn't match the server", "cert.name-mismatch"),
        ("Thunderbird says the certificate belongs to a different site", "cert.name-mismatch"),
        ("iPhone: can't verify the identity of the server", "cert.name-mismatch"),
        ("cert expired yesterday", "cert.expired"),
        ("the certificate expires/expired — users get warnings", "cert.expired"),
        (
            "The certificate is not trusted because the issuer certificate is unknown.",
            "cert.chain-incomplete",
        ),
        ("my android phone says the certificate is not trusted", "cert.untrusted"),
        ("Outlook: the certificate was signed by an unknown authority", "cert.untrusted"),
        ("the server uses TLS 1.0 and new clients refuse it", "config.legacy-protocols"),
        ("SSL handshake error when sending", "tls.handshake-failed"),
        ("STARTTLS failed on port 587", "tls.starttls-unavailable"),
        ("connection refused on port 993", "tls.unreachable"),
        ("the certificate is not valid for this usage", "cert.wrong-usage"),
        ("clients complain the certificate is self signed", "cert.self-signed"),
        ("Outlook keeps asking me to accept the certificate", "cert.name-mismatch"),
        ("the server only supports TLS 1.1", "config.legacy-protocols"),
        ("no shared cipher", "config.legacy-protocols"),
    ],
)
def test_paraphrases_not_in_the_table(text: str, check: str) -> None:
    assert all(text.casefold() not in p.casefold() for ps in PHRASINGS.values() for p in ps)
    assert check in causes(text)


@pytest.mark.parametrize(
    "text", ["hello world", "there was a problem", "certificate", "0x100", "please help"]
)
def test_nothing_recognised(text: str) -> None:
    assert causes(text) == []


def test_confirm_commands_name_the_host() -> None:
    result = explain("The target principal name is incorrect", host="mail.example.com")
    assert result.causes[0].confirm == "mailcert probe mail.example.com"
    stale = next(c for c in explain("0x4", host="mx1").causes if c.check == "tls.stale")
    assert stale.confirm == "mailcert audit --limit mx1"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        build_program().run(["mailcert", "explain", *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_cli_json_per_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "0x30", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"query", "outlook_flags", "causes"}
    assert data["query"] == "0x30"
    assert data["outlook_flags"] == ["CERT_CN_INVALID", "CERT_DATE_INVALID"]
    assert all(set(c) == {"check", "why", "confirm"} for c in data["causes"])


def test_cli_several_words_and_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "The", "target", "principal", "name", "is", "incorrect")
    assert code == 0
    assert "cert.name-mismatch" in out and "mailcert probe HOST" in out


def test_cli_nothing_matched_is_unknown_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "hello world")
    assert code == 3
    assert "no known client error" in out
    assert len(err.strip().splitlines()) == 1 and "0x30" in err


def test_cli_empty_query_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys)
    assert code == 3 and "nothing to explain" in err


def test_every_phrasing_of_the_symptoms_table_leads_back_to_its_check() -> None:
    missed = [(check, p) for check, ps in PHRASINGS.items() for p in ps if check not in causes(p)]
    assert missed == []
