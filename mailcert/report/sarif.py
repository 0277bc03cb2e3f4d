"""SARIF 2.1.0 (`--format sarif`) for code scanning of a pull request that changes mail-server config.

`lint ROOT` reports files as they are on the host (`/etc/postfix/main.cf`); SARIF gets them relative to the
uriBaseId `ROOT` (`etc/postfix/main.cf`). Code scanning resolves that against the repository root, or
against `root_uri` when the caller knows where ROOT sits in the repository (e.g. `hosts/mx1/`).
Findings without a file (probe results) carry a logical location `host/service:port` instead.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from mailcert import __version__
from mailcert.catalogue import CHECKS
from mailcert.model import Finding, HostReport, Report, Severity
from mailcert.report.json import JSONObject, JSONValue, readable_json
from mailcert.symptoms import symptoms_for
from mailcert.wording import iso_utc

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
ROOT_BASE_ID = "ROOT"

LEVELS: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.UNKNOWN: "warning",
}


def artifact_uri(host_path: str) -> str:
    """A host path as a URI reference relative to ROOT: no leading `/`, percent-encoded (`# LE cert`)."""
    return quote(host_path.lstrip("/"), safe="/")


def _rule(check_id: str) -> JSONObject:
    check = CHECKS[check_id]
    s = symptoms_for(check_id)
    flag = f" (WinHTTP flag {s.outlook_flag})" if s.outlook_flag else ""
    help_text = (
        f"{check_id} fires when {check.fires_when}.\n"
        f"What mail clients show:\n"
        f"- Outlook: {s.outlook}{flag}\n"
        f"- Apple Mail: {s.apple}\n"
        f"- Thunderbird: {s.thunderbird}\n"
        f"- Android: {s.android}"
    )
    return {
        "id": check_id,
        "shortDescription": {"text": check.fires_when},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": LEVELS[check.severity]},
    }


def _logical_name(host: HostReport, finding: Finding) -> str:
    if finding.port is not None:
        return f"{finding.service}:{finding.port}" if finding.service else f"port {finding.port}"
    return finding.service or finding.hostname or host.name


def _location(host: HostReport, finding: Finding) -> JSONObject:
    if finding.file:
        physical: JSONObject = {
            "artifactLocation": {"uri": artifact_uri(finding.file), "uriBaseId": ROOT_BASE_ID}
        }
        if finding.line is not None and finding.line >= 1:
            physical["region"] = {"startLine": finding.line}
        return {"physicalLocation": physical}
    name = _logical_name(host, finding)
    full = host.name if name == host.name else f"{host.name}/{name}"
    return {"logicalLocations": [{"name": name, "fullyQualifiedName": full, "kind": "resource"}]}


def _result(host: HostReport, finding: Finding, rule_index: int) -> JSONObject:
    properties: JSONObject = {"host": host.name, "severity": finding.severity.value}
    for key, value in (("service", finding.service), ("port", finding.port), ("hostname", finding.hostname)):
        if value is not None:
            properties[key] = value
    return {
        "ruleId": finding.check,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.message}\nFix: {finding.fix}"},
        "locations": [_location(host, finding)],
        "properties": properties,
    }


def sarif_log(report: Report, *, root_uri: str | None = None) -> JSONObject:
    """The SARIF log object: one run, rules for the checks that occur (catalogue order), one result per finding."""
    occurring = {f.check for host in report.hosts for f in host.findings}
    for check_id in occurring:
        symptoms_for(check_id)  # an ID outside the catalogue stops here with a clear error
    rule_ids = [c for c in CHECKS if c in occurring]
    index = {check_id: i for i, check_id in enumerate(rule_ids)}
    root: JSONObject = {"description": {"text": "the directory given to `mailcert lint` (the host's /)"}}
    if root_uri:
        root["uri"] = root_uri if root_uri.endswith("/") else root_uri + "/"
        if not urlsplit(root_uri).scheme:
            root["uriBaseId"] = "%SRCROOT%"  # a repository-relative ROOT: code scanning's checkout root
    unchecked = [h for h in report.hosts if h.error is not None]
    notifications: list[JSONValue] = [
        {"level": "error", "message": {"text": f"{h.name}: {h.error}"}} for h in unchecked
    ]
    invocation: JSONObject = {
        "executionSuccessful": not unchecked,
        "endTimeUtc": iso_utc(report.generated_at),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: JSONObject = {
        "tool": {
            "driver": {
                "name": "mailcert",
                "version": __version__,
                "rules": [_rule(c) for c in rule_ids],
            }
        },
        "originalUriBaseIds": {ROOT_BASE_ID: root},
        "invocations": [invocation],
        "results": [_result(h, f, index[f.check]) for h in report.hosts for f in h.findings],
        "properties": {"status": report.status.value, "evaluatedAt": iso_utc(report.evaluated_at)},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render_sarif(report: Report, *, root_uri: str | None = None) -> str:
    """The SARIF log as indented JSON text ending in a newline."""
    return readable_json(sarif_log(report, root_uri=root_uri)) + "\n"
