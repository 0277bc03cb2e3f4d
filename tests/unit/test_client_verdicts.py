"""`mailcert probe --client`: each client family's verdict per endpoint, from the findings there and the verdicts of
mailcert/data/symptoms.yml (the same data `explain` ranks by)."""

from __future__ import annotations

import pytest

from mailcert.cli import build_program
from mailcert.client_verdicts import client_summary, client_verdicts, endpoint_clients, parse_client_option
from mailcert.errors import UsageError
from mailcert.model import ConfiguredCert, Endpoint, Finding, HostReport, Mode, Severity
from mailcert.symptoms import FAMILIES


def test_a_leaf_only_chain_may_pass_outlook_through_aia_and_fails_thunderbird_and_android() -> None:
    verdicts = client_verdicts(["config.cert-not-fullchain"], FAMILIES)
    assert verdicts["outlook"] == "aia"
    assert verdicts["thunderbird"] == verdicts["android"] == verdicts["openssl"] == "fails"
    assert (
        client_summary(verdicts)
        == "Outlook, Apple Mail may pass through AIA; Thunderbird, Android, OpenSSL, GnuTLS fail"
    )


def test_the_worst_verdict_wins_and_nothing_found_means_every_client_connects() -> None:
    both = client_verdicts(["cert.chain-incomplete", "cert.expired"], ["outlook"])
    assert both == {"outlook": "fails"}
    assert client_summary(client_verdicts([], ["thunderbird", "outlook"])) == "Thunderbird, Outlook connect"
    assert client_verdicts(["tls.stale"], ["apple"]) == {"apple": "later"}


def test_per_endpoint_only_the_findings_of_that_port_and_name_count() -> None:
    endpoint = Endpoint(
        "postfix", 25, Mode.STARTTLS, ("smtp.example.org", "mail.example.org"), ConfiguredCert(None, None)
    )
    imap = Endpoint("dovecot", 993, Mode.IMPLICIT, ("imap.example.org",), ConfiguredCert(None, None))
    findings = (
        Finding("cert.chain-incomplete", Severity.CRITICAL, "m", "f", port=25, hostname=None),
        Finding("cert.name-mismatch", Severity.CRITICAL, "m", "f", port=25, hostname="smtp.example.org"),
    )
    views = endpoint_clients([HostReport("mx1", (endpoint, imap), findings)], ["outlook", "thunderbird"])
    by_name = {(v.port, v.hostname): v for v in views}
    assert by_name[(25, "smtp.example.org")].verdicts == {"outlook": "fails", "thunderbird": "fails"}
    assert by_name[(25, "mail.example.org")].summary == "Outlook may pass through AIA; Thunderbird fail"
    assert by_name[(993, "imap.example.org")].summary == "Outlook, Thunderbird connect"
    assert by_name[(25, "mail.example.org")].to_json()["checks"] == ["cert.chain-incomplete"]


def test_the_option_takes_families_all_or_fails_with_a_usage_error() -> None:
    assert parse_client_option("all") == FAMILIES
    assert parse_client_option("Outlook,thunderbird") == ("outlook", "thunderbird")
    with pytest.raises(UsageError, match="unknown client"):
        parse_client_option("netscape")


def test_cli_refuses_an_unknown_client_with_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_program().run(["mailcert", "probe", "--client", "netscape", "mail.example.org"], exit=True)
    assert done.value.code == 3
    assert "unknown client netscape" in capsys.readouterr().err


def test_cli_refuses_client_with_a_format_it_cannot_carry(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_program().run(
            ["mailcert", "probe", "--client", "all", "--format", "sarif", "mail.example.org"], exit=True
        )
    assert done.value.code == 3
