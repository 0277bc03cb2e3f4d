"""The client-symptom table: complete for the catalogue, faithful to the reference wordings, usable by explain."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from mailcert.catalogue import CHECKS
from mailcert.errors import MailcertError
from mailcert.symptoms import (
    CLIENT_FAMILIES,
    PHRASINGS,
    SYMPTOMS,
    VERDICTS,
    Symptoms,
    checks_matching,
    parse_symptoms_table,
    phrasings_for,
    symptoms_for,
)

# WINHTTP_CALLBACK_STATUS_FLAG_* values (reference §6); nothing else may appear as an Outlook flag.
WINHTTP_FLAGS = {"", "0x01", "0x02", "0x04", "0x08", "0x10", "0x20", "0x40", "0x80000000"}


def test_every_catalogue_check_has_symptoms_and_phrasings_in_catalogue_order() -> None:
    assert list(SYMPTOMS) == list(CHECKS)
    assert list(PHRASINGS) == list(CHECKS)


def test_symptoms_carry_exactly_the_five_json_fields_and_are_frozen() -> None:
    names = [f.name for f in dataclasses.fields(Symptoms)]
    assert names == ["outlook", "outlook_flag", "apple", "thunderbird", "android"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        symptoms_for("cert.expired").outlook = "x"  # type: ignore[misc]


def test_every_client_text_is_filled_and_every_flag_is_a_winhttp_flag() -> None:
    for check_id, s in SYMPTOMS.items():
        assert all(text.strip() for text in (s.outlook, s.apple, s.thunderbird, s.android)), check_id
        assert s.outlook_flag in WINHTTP_FLAGS, check_id


@pytest.mark.parametrize(
    ("check_id", "flag", "outlook_text"),
    [
        ("cert.name-mismatch", "0x10", "The target principal name is incorrect."),
        ("cert.expired", "0x20", "A required certificate is not within its validity period"),
        ("cert.not-yet-valid", "0x20", "A required certificate is not within its validity period"),
        ("cert.self-signed", "0x08", "The certificate chain was issued by an authority that is not trusted."),
        ("cert.untrusted", "0x08", "The certificate chain was issued by an authority that is not trusted."),
        ("cert.wrong-usage", "0x40", "The certificate is not valid for the requested usage."),
        ("config.legacy-protocols", "0x80000000", "SECURITY_CHANNEL_ERROR"),
        ("key.permissions", "", "nothing"),
    ],
)
def test_outlook_wording_and_flag_follow_the_reference(check_id: str, flag: str, outlook_text: str) -> None:
    s = symptoms_for(check_id)
    assert s.outlook_flag == flag
    assert outlook_text in s.outlook


def test_other_clients_follow_the_reference() -> None:
    assert "Cannot Verify Server Identity" in symptoms_for("cert.name-mismatch").apple
    assert (
        "not confirmed" in symptoms_for("cert.name-mismatch").apple
    )  # the reference marks that wording UNVERIFIED
    assert "SSL_ERROR_BAD_CERT_DOMAIN" in symptoms_for("cert.name-mismatch").thunderbird
    assert "SEC_ERROR_UNKNOWN_ISSUER" in symptoms_for("cert.chain-incomplete").thunderbird
    assert "does not fetch" in symptoms_for("cert.chain-incomplete").android
    assert "Outdated Information" in symptoms_for("cert.expired").thunderbird
    assert "MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT" in symptoms_for("cert.self-signed").thunderbird
    assert "SAN is required" in symptoms_for("cert.no-san").apple
    # a leaf-only file configured is the same client experience as a missing intermediate on the wire
    assert symptoms_for("config.cert-not-fullchain") == symptoms_for("cert.chain-incomplete")


@pytest.mark.parametrize(
    ("phrase", "checks"),
    [
        ("The target principal name is incorrect", {"cert.name-mismatch"}),
        (
            "SEC_ERROR_UNKNOWN_ISSUER",
            {"cert.chain-incomplete", "config.cert-not-fullchain", "cert.untrusted"},
        ),
        ("unable to get local issuer certificate", {"cert.chain-incomplete", "cert.untrusted"}),
        ("Cannot Verify Server Identity", {"cert.name-mismatch", "cert.no-san", "cert.self-signed"}),
        (
            "454 4.7.0 TLS not available due to local problem",
            {
                "cert.missing",
                "cert.leaf-not-first",
                "key.mismatch",
                "key.encrypted",
                "tls.starttls-unavailable",
            },
        ),
        ("wrong version number", {"config.mode-mismatch", "config.syntax", "tls.handshake-failed"}),
        ("certificate has expired", {"cert.expired", "tls.stale", "renewal.no-reload-hook"}),
        ("unsuitable certificate purpose", {"cert.wrong-usage"}),
    ],
)
def test_phrasings_name_the_checks_behind_a_client_message(phrase: str, checks: set[str]) -> None:
    listing = {check_id for check_id, listed in PHRASINGS.items() if phrase in listed}
    assert checks <= listing


def test_checks_without_client_symptoms_list_no_phrasings() -> None:
    for check_id in ("key.permissions", "config.plaintext-auth", "cert.chain-order", "host.unreachable"):
        assert phrasings_for(check_id) == ()


def test_checks_matching_finds_phrasings_inside_a_pasted_message() -> None:
    pasted = (
        "Internet Security Warning\nThe server you are connected to is using a security certificate that "
        "cannot be verified.\nTHE TARGET PRINCIPAL\n   NAME IS INCORRECT.\nDo you want to continue?"
    )
    assert "cert.name-mismatch" in checks_matching(pasted)
    assert "cert.expired" not in checks_matching(pasted)
    openssl = "depth=0 CN = mail.example.com\nverify error:num=10:certificate has expired"
    matched = checks_matching(openssl)
    assert matched[0] == "cert.expired"  # catalogue order
    assert "cert.name-mismatch" not in matched
    assert checks_matching("everything is fine") == ()


def test_unknown_check_id_is_one_clear_error() -> None:
    with pytest.raises(MailcertError, match=re.escape("unknown check ID 'cert.nope'")):
        symptoms_for("cert.nope")
    assert phrasings_for("cert.nope") == ()


def _entry(check_id: str) -> dict[str, object]:
    return {
        **dataclasses.asdict(SYMPTOMS[check_id]),
        "phrasings": list(PHRASINGS[check_id]),
        "verdict": dict(VERDICTS[check_id]),
    }


def _table_with(check_id: str, entry: object) -> str:
    table: dict[str, object] = {c: _entry(c) for c in CHECKS}
    table[check_id] = entry
    table["clients"] = {
        key: {"name": f.name, "stack": f.stack, "aia": f.aia, "source": f.source}
        for key, f in CLIENT_FAMILIES.items()
    }
    return yaml.safe_dump(table)


def test_table_parser_accepts_the_table_as_it_is() -> None:
    symptoms, phrasings = parse_symptoms_table(_table_with("cert.expired", _entry("cert.expired")))
    assert symptoms == dict(SYMPTOMS)
    assert phrasings == dict(PHRASINGS)


def test_table_parser_rejects_a_missing_check() -> None:
    table = yaml.safe_load(_table_with("cert.expired", {}))
    del table["cert.expired"]
    with pytest.raises(MailcertError, match=r"missing: \['cert.expired'\]"):
        parse_symptoms_table(yaml.safe_dump(table))


def test_table_parser_rejects_an_unquoted_hex_code() -> None:
    # YAML reads 0x800B0101 as an integer; the table must quote it
    text = _table_with("cert.expired", {}).replace(
        "cert.expired: {}",
        "cert.expired:\n  outlook: a\n  outlook_flag: '0x20'\n  apple: b\n"
        "  thunderbird: c\n  android: d\n  verdict: {outlook: fails, apple: fails, thunderbird: fails,"
        " android: fails, openssl: fails, gnutls: fails}\n  phrasings:\n  - 0x800B0101",
    )
    with pytest.raises(MailcertError, match="quote hex codes"):
        parse_symptoms_table(text)


def test_table_parser_rejects_a_missing_field() -> None:
    entry = {**dataclasses.asdict(SYMPTOMS["cert.expired"])}  # no phrasings
    with pytest.raises(MailcertError, match=re.escape("cert.expired: needs exactly")):
        parse_symptoms_table(_table_with("cert.expired", entry))
