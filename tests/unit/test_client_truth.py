"""The lab's client matrix (docs/clients.json, recorded by `make clients`) against mailcert/data/symptoms.yml and
`explain`: what real stacks print must lead back to the fault's checks, the verdicts of the families a stack here
stands for must be what the stack did, and a client's catch-all wording must list every cause that client shows it
for. The expectations are read from the YAML file itself, so the table, symptoms.yml and explain cannot drift."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailcert.explain import explain
from mailcert.lab.client_matrix import (
    FAULT_CHECKS,
    MAIL_PORTS,
    NOT_YET_BITING,
    RECORDED_FAULTS,
    Row,
    fault_hosts,
    load_rows,
)
from mailcert.lab.faults import FAULTS
from mailcert.lab.matrix_hosts import host_kind, shown_name
from mailcert.lab.stacks import STACKS
from mailcert.symptoms import CLIENT_FAMILIES, FAMILIES, PHRASINGS, VERDICTS, checks_matching, symptoms_for

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "docs" / "clients.json"
ROWS = load_rows(RECORDED.read_text())
STARTTLS_PORTS = (25, 587, 143, 110)
# The family each lab stack stands for (Python's ssl is OpenSSL underneath).
FAMILY_OF_STACK = {"openssl": "openssl", "python": "openssl", "gnutls": "gnutls", "nss": "thunderbird"}
# Words of the recorder itself, not of a stack: a client that waited for a greeting, a chain never served.
RECORDER_WORDS = ("no answer within", "no greeting", "before TLS: no greeting", "no chain served")
CLIENT_FIELDS = ("outlook", "apple", "thunderbird", "android")
TABLE: dict[str, Any] = yaml.safe_load((ROOT / "mailcert" / "data" / "symptoms.yml").read_text())


def rows(fault: str, stack: str | None = None) -> list[Row]:
    return [r for r in ROWS if r.fault == fault and (stack is None or r.stack == stack)]


def test_the_table_covers_every_fault_of_the_catalogue_every_port_and_stack() -> None:
    assert set(FAULT_CHECKS) == {"healthy", *RECORDED_FAULTS}
    assert set(RECORDED_FAULTS) == set(FAULTS)  # cPanel's and Debian 13's faults too
    for fault in fault_hosts():
        for stack in STACKS:
            ports = STARTTLS_PORTS if stack == "nss-chain" else MAIL_PORTS
            assert sorted(r.port for r in rows(fault, stack)) == sorted(ports), (fault, stack)
    markdown = (ROOT / "docs" / "clients.md").read_text()
    assert all(f"| {r.fault} | {r.port} | {r.stack} |" in markdown for r in ROWS), (
        "regenerate docs/clients.md"
    )


def test_each_fault_is_asked_on_its_kind_of_host_under_its_clients_names() -> None:
    assert {
        fault: host_kind(fault) for fault in RECORDED_FAULTS if host_kind(fault) != "postfix-dovecot"
    } == {
        "dovecot-file-lt": "debian13",
        **{name: "cpanel" for name in FAULTS if name.startswith("cpanel-")},
    }
    # a cPanel server's clients use mail.<account domain> on every port; the others smtp./imap./pop.
    assert {shown_name("cpanel-hostname-only", port) for port in MAIL_PORTS} == {"mail.beta.<host domain>"}
    assert {shown_name("cpanel-expired-domain", port) for port in MAIL_PORTS} == {"mail.alpha.<host domain>"}
    assert [shown_name("dovecot-file-lt", port) for port in (25, 993, 110)] == [
        "smtp.<host domain>", "imap.<host domain>", "pop.<host domain>",
    ]  # fmt: skip
    document = json.loads(RECORDED.read_text())
    assert document["hosts"]["cpanel-stale-sni"] == {
        "kind": "cpanel",
        "names": {str(port): "mail.alpha.<host domain>" for port in MAIL_PORTS},
    }


def test_every_stack_accepts_the_healthy_host() -> None:
    assert all(r.ok for r in rows("healthy")), [r for r in rows("healthy") if not r.ok]


def test_every_stack_rejects_the_faults_that_break_tls_and_passes_the_ones_that_wait() -> None:
    for fault in ("expired", "name-mismatch", "key-mismatch"):
        assert not any(r.ok for r in rows(fault) if r.stack != "nss-chain"), fault
    # facts, not failures: nothing to see until the certificate lapses, or until the next restart
    for fault in ("stale", "no-deploy-hook", "cpanel-stale-sni", *NOT_YET_BITING):
        assert all(r.ok for r in rows(fault)), fault


def failing_stack_messages() -> list[Row]:
    return [r for r in ROWS if not r.ok and not r.message.startswith(RECORDER_WORDS)]


@pytest.mark.parametrize("row", failing_stack_messages(), ids=lambda r: f"{r.fault}-{r.port}-{r.stack}")
def test_every_recorded_message_leads_back_to_the_faults_checks(row: Row) -> None:
    checks = set(FAULT_CHECKS[row.fault])
    assert checks & set(checks_matching(row.message)), f"no phrasing of {sorted(checks)} in {row.message!r}"
    assert checks & {c.check for c in explain(row.message).causes}, row.message


# NSS's certificate errors (its connection errors, PR_END_OF_FILE_ERROR and the like, are Thunderbird's "reset").
_NSS_CODE = re.compile(r"\b(?:SEC_ERROR_[A-Z_]+|SSL_ERROR_BAD_CERT_[A-Z_]+|MOZILLA_PKIX_ERROR_[A-Z_]+)")


def test_thunderbird_texts_name_the_nss_error_the_lab_saw() -> None:
    for row in ROWS:
        if row.stack not in ("nss", "nss-chain"):
            continue
        for code in _NSS_CODE.findall(row.message):
            texts = [symptoms_for(check).thunderbird for check in FAULT_CHECKS[row.fault]]
            assert any(code in text for text in texts), (row.fault, code)


@pytest.mark.parametrize("fault", [f for f in RECORDED_FAULTS if f not in NOT_YET_BITING])
def test_verdicts_of_families_a_lab_stack_stands_for_are_what_the_stack_did(fault: str) -> None:
    for stack, family in FAMILY_OF_STACK.items():
        rejected = any(not r.ok for r in rows(fault, stack))
        verdicts = {VERDICTS[check][family] for check in FAULT_CHECKS[fault]}
        if rejected:
            assert "fails" in verdicts, (fault, stack, verdicts)
        else:
            assert verdicts <= {"passes", "later", "none", "depends"}, (fault, stack, verdicts)


@pytest.mark.parametrize("fault", NOT_YET_BITING)
def test_a_fault_that_has_not_bitten_yet_is_recorded_as_passing_and_said_so(fault: str) -> None:
    # every stack connects to what the daemons still serve; the checks' verdicts are for after the next restart
    assert all(r.ok for r in rows(fault)), fault
    markdown = (ROOT / "docs" / "clients.md").read_text()
    assert f"`{fault}` has not bitten yet in the lab: {NOT_YET_BITING[fault]}." in markdown


def test_aia_is_stated_with_a_source_for_every_family_and_matches_the_verdicts() -> None:
    assert set(CLIENT_FAMILIES) == set(FAMILIES)
    assert {key for key, family in CLIENT_FAMILIES.items() if family.aia} == {"outlook", "apple"}
    for check, by_family in VERDICTS.items():
        for family, verdict in by_family.items():
            if verdict == "aia":
                assert CLIENT_FAMILIES[family].aia, (check, family)
    for family in ("thunderbird", "android", "openssl", "gnutls"):
        assert VERDICTS["cert.chain-incomplete"][family] == "fails"
    # what no stack here can show says so
    assert "not confirmed" in CLIENT_FAMILIES["apple"].source
    assert "not confirmed" in CLIENT_FAMILIES["android"].source
    assert "lab" in CLIENT_FAMILIES["thunderbird"].source


def expected_owners(phrasing: str) -> set[str]:
    """From the YAML: the checks that list the phrasing, and those whose client text shows it where that client
    fails or may fail."""
    folded = " ".join(phrasing.split()).casefold()
    owners = set()
    for check, entry in TABLE.items():
        if check == "clients":
            continue
        if phrasing in entry["phrasings"]:
            owners.add(check)
        for field in CLIENT_FIELDS:
            text = " ".join(entry[field].split()).casefold()
            if entry["verdict"][field] in ("fails", "aia") and folded in text:
                owners.add(check)
    return owners


@pytest.mark.parametrize("phrasing", sorted({p for ps in PHRASINGS.values() for p in ps}))
def test_a_phrasing_lists_every_cause_the_table_shows_it_for(phrasing: str) -> None:
    listed = {c.check for c in explain(phrasing).causes}
    assert expected_owners(phrasing) <= listed


def test_cannot_verify_server_identity_lists_an_expired_certificate_first() -> None:
    result = explain("Cannot Verify Server Identity")
    checks = [c.check for c in result.causes]
    assert result.client == "apple"
    assert checks[0] == "cert.expired"
    assert {"cert.name-mismatch", "cert.no-san", "cert.self-signed", "cert.untrusted"} <= set(checks)
    # Apple may fetch a missing intermediate through AIA: listed, after what it always refuses
    assert checks.index("cert.chain-incomplete") > checks.index("cert.untrusted")


def test_the_query_s_client_ranks_a_missing_intermediate_by_what_it_does() -> None:
    text = "The certificate chain was issued by an authority that is not trusted"
    outlook = [c.check for c in explain(f"Outlook says: {text}").causes]
    assert outlook.index("cert.chain-incomplete") > outlook.index("cert.untrusted")
    assert "may still connect" in next(
        c.why for c in explain(f"Outlook: {text}").causes if "chain" in c.check
    )
    thunderbird = [c.check for c in explain("Thunderbird: Unknown Identity").causes]
    assert explain("Thunderbird: Unknown Identity").client == "thunderbird"
    assert thunderbird.index("cert.chain-incomplete") < thunderbird.index("cert.untrusted")


def test_the_recorded_json_is_what_the_recorder_writes() -> None:
    document = json.loads(RECORDED.read_text())
    assert set(document) == {"versions", "tools", "fault_checks", "hosts", "rows"}
    assert document["fault_checks"] == {fault: list(checks) for fault, checks in FAULT_CHECKS.items()}
