"""SPEC's JSON report (`--format json`, schema "mailcert/1"): domain objects mapped to plain dicts.

The mapping is explicit, field by field, so that nothing reaches the output by accident: the domain model
holds no secrets, and a field added to it appears here only when someone adds it on purpose.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import PurePath

from mailcert.errors import MailcertError
from mailcert.model import ConfiguredCert, Endpoint, Finding, HostReport, Report, ServedCert
from mailcert.report.indented_json import indented_json
from mailcert.symptoms import symptoms_for
from mailcert.wording import iso_utc

JSONValue = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]
JSONObject = dict[str, JSONValue]


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def configured_to_dict(configured: ConfiguredCert) -> JSONObject:
    return {
        "cert_file": configured.cert_file,
        "key_file": configured.key_file,
        "sha256": configured.sha256,
        "not_after": _iso_or_none(configured.not_after),
        "sans": list(configured.sans),
    }


def served_to_dict(served: ServedCert | None) -> JSONObject | None:
    if served is None:
        return None
    return {
        "sha256": served.sha256,
        "not_after": iso_utc(served.not_after),
        "sans": list(served.sans),
        "chain_length": served.chain_length,
        "tls_version": served.tls_version,
    }


def endpoint_to_dict(endpoint: Endpoint) -> JSONObject:
    entry: JSONObject = {
        "service": endpoint.service,
        "port": endpoint.port,
        "mode": endpoint.mode.value,
        "hostnames": list(endpoint.hostnames),
        "configured": configured_to_dict(endpoint.configured),
        "served": served_to_dict(endpoint.served),
    }
    if endpoint.advertised_by:  # only endpoints DNS advertises (mailcert_domains) carry it
        entry["advertised_by"] = list(endpoint.advertised_by)
    return entry


def finding_to_dict(finding: Finding) -> JSONObject:
    symptoms = symptoms_for(finding.check)
    return {
        "check": finding.check,
        "severity": finding.severity.value,
        "service": finding.service,
        "port": finding.port,
        "hostname": finding.hostname,
        "file": finding.file,
        "line": finding.line,
        "message": finding.message,
        "fix": finding.fix,
        "symptoms": {
            "outlook": symptoms.outlook,
            "outlook_flag": symptoms.outlook_flag,
            "apple": symptoms.apple,
            "thunderbird": symptoms.thunderbird,
            "android": symptoms.android,
        },
    }


def host_to_dict(host: HostReport) -> JSONObject:
    out: JSONObject = {
        "name": host.name,
        "status": host.status.value,
        "error": host.error,
        "endpoints": [endpoint_to_dict(e) for e in host.endpoints],
        "findings": [finding_to_dict(f) for f in host.findings],
    }
    if host.renewals:  # only hosts with certbot lineages (audit, verify, fix)
        out["renewals"] = [{"lineage": r.lineage, "renewed_at": iso_utc(r.renewed_at)} for r in host.renewals]
    if host.endpoints_after is not None:  # fix only
        out["endpoints_after"] = plan_value(host.endpoints_after, f"{host.name}.endpoints_after")
    return out


def plan_value(value: object, where: str) -> JSONValue:
    """A plan entry's value as JSON: times as ISO UTC, enums by value, paths as strings, tuples as lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, enum.Enum):
        return plan_value(value.value, where)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plan_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes | bytearray):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [plan_value(v, f"{where}[{i}]") for i, v in enumerate(items)]
    raise MailcertError(
        f"the fix plan holds a {type(value).__name__} at {where}, which JSON cannot carry",
        todo="this is a mailcert bug; please report it, or use --format text",
    )


def report_to_dict(report: Report) -> JSONObject:
    """The whole report as SPEC's JSON object; `plan` only when the report carries one (fix)."""
    out: JSONObject = {
        "schema": report.schema,
        "generated_at": iso_utc(report.generated_at),
        "evaluated_at": iso_utc(report.evaluated_at),
        "status": report.status.value,
        "hosts": [host_to_dict(h) for h in report.hosts],
    }
    if report.plan is not None:
        out["plan"] = [plan_value(change, f"plan[{i}]") for i, change in enumerate(report.plan)]
    return out


def readable_json(value: JSONValue) -> str:
    """Indented JSON with UTF-8 kept readable, but DEL and C1 controls escaped: json.dumps leaves them raw,
    and U+009B (CSI) from a hostile host's config would drive a terminal the report is printed on."""
    text = indented_json(value)  # json.dumps(value, indent=2, ensure_ascii=False), faster
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)  # only inside strings: same JSON value


_C1 = re.compile("[\x7f-\x9f]")


def render_json(report: Report) -> str:
    """The report as indented JSON text (UTF-8 kept readable), ending in a newline."""
    return readable_json(report_to_dict(report)) + "\n"
