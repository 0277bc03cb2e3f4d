"""report/json_read.py: SPEC's JSON read back into the model; render → read → render is the same JSON, and
anything that is not a mailcert report is one clear error naming the file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcert.model import Report, Severity, Status
from mailcert.report.json import render_json
from mailcert.report.json_read import ReportFileError, load_report, read_report
from tests.report_fleet import fleet
from tests.unit.test_report_json import sample_report

WHEN = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _reports() -> list[Report]:
    hosts = fleet(40)
    plan: tuple[dict[str, object], ...] = (
        {"host": "mx001.example.test", "kind": "edit", "description": "set x", "removes": ["config.syntax"]},
        {"host": "mx002.example.test", "kind": "unfixable", "description": "why", "outcome": "skipped"},
        {"nested": {"list": [1, 2.5, None, True, "ü"]}},
    )
    return [
        Report(generated_at=WHEN, evaluated_at=WHEN, hosts=()),
        Report(generated_at=WHEN, evaluated_at=datetime(2027, 1, 31, tzinfo=UTC), hosts=tuple(hosts)),
        Report(generated_at=WHEN, evaluated_at=WHEN, hosts=tuple(hosts[:5]), plan=plan),
        Report(generated_at=WHEN, evaluated_at=WHEN, hosts=tuple(hosts[:5]), plan=()),
        sample_report(),
    ]


def test_the_varied_fleet_has_every_severity_status_and_shape() -> None:
    hosts = fleet(40)
    assert {f.severity for h in hosts for f in h.findings} == set(Severity)
    assert {h.status for h in hosts} == set(Status)
    assert any(h.error for h in hosts) and any(e.served is None for h in hosts for e in h.endpoints)
    assert any(e.advertised_by for h in hosts for e in h.endpoints)


@pytest.mark.parametrize("index", range(5))
def test_render_read_render_is_the_same_json(index: int) -> None:
    text = render_json(_reports()[index])
    again = read_report(text)
    assert render_json(again) == text
    assert again.status is _reports()[index].status


def test_reading_keeps_the_model() -> None:
    report = _reports()[1]
    again = read_report(render_json(report))
    assert [h.name for h in again.hosts] == [h.name for h in report.hosts]
    assert [(h.findings, h.error) for h in again.hosts] == [(h.findings, h.error) for h in report.hosts]
    assert again.evaluated_at == report.evaluated_at


def test_keys_spec_does_not_name_are_ignored() -> None:
    document = json.loads(render_json(_reports()[2]))
    document["hosts"][0]["endpoints_after"] = [{"port": 25}]  # fix's contract addition
    document["future"] = 1
    assert render_json(read_report(json.dumps(document))) == render_json(_reports()[2])


def _broken(change: str) -> str:
    document = json.loads(render_json(_reports()[2]))
    host = document["hosts"][1]
    if change == "status":
        host["status"] = "ok" if host["status"] != "ok" else "critical"
    elif change == "severity":
        host["findings"][0]["severity"] = "fatal"
    elif change == "port":
        host["endpoints"][0]["port"] = "25"
    elif change == "bool port":
        host["endpoints"][0]["port"] = True
    elif change == "time":
        document["generated_at"] = "yesterday"
    elif change == "missing":
        del host["findings"]
    elif change == "hosts":
        document["hosts"] = {}
    elif change == "twice":
        document["hosts"].append(document["hosts"][0])
    elif change == "plan":
        document["plan"] = ["x"]
    elif change == "run status":
        document["status"] = "ok"
    return json.dumps(document)


@pytest.mark.parametrize(
    "change,where",
    [
        ("status", "hosts[1].status"),
        ("severity", "hosts[1].findings[0].severity"),
        ("port", "hosts[1].endpoints[0].port"),
        ("bool port", "hosts[1].endpoints[0].port"),
        ("time", "generated_at"),
        ("missing", "hosts[1].findings: missing"),
        ("hosts", "hosts: expected a list"),
        ("twice", "appears twice"),
        ("plan", "plan[0]"),
        ("run status", "status: says 'ok'"),
    ],
)
def test_a_broken_report_is_one_error_at_its_json_path(change: str, where: str) -> None:
    with pytest.raises(ReportFileError) as caught:
        read_report(_broken(change), where="shard-2.json")
    line = caught.value.line()
    assert line.startswith("shard-2.json: ") and where in line and "\n" not in line


@pytest.mark.parametrize(
    "text,says",
    [
        ("", "not JSON"),
        ("garbage", "not JSON"),
        ("[]", "not a mailcert report (no schema"),
        ('{"schema": "sarif/2"}', "not a mailcert report (schema 'sarif/2'"),
        ('{"schema": "mailcert/1"}', "hosts: missing"),
        ('{"schema": "mailcert/1", "schema": "mailcert/1"}', "appears twice"),
        ('{"schema": "mailcert/1", "x": NaN}', "NaN is not JSON"),
        ("[" * 100_000, "not JSON"),
    ],
)
def test_not_a_report(text: str, says: str) -> None:
    with pytest.raises(ReportFileError) as caught:
        read_report(text, where="r.json")
    assert says in caught.value.line()


def test_files(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(render_json(_reports()[1]), encoding="utf-8")
    assert render_json(load_report(str(good))) == good.read_text(encoding="utf-8")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for path, says in [
        (tmp_path / "none.json", "no such file"),
        (binary, "not UTF-8"),
        (tmp_path, "cannot read"),
    ]:
        with pytest.raises(ReportFileError) as caught:
            load_report(str(path))
        assert caught.value.line().startswith(f"{path}: {says}")
