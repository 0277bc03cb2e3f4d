"""report/json_read.py: SPEC's JSON read back into the model; render → read → render is the same JSON, and
anything that is not a mailcert report is one clear error naming the file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcert.model import HostReport, Report, Severity, Status
from mailcert.report import FORMATS, render
from mailcert.report.fix_plan import with_endpoints_after
from mailcert.report.json import render_json
from mailcert.report.json_read import ReportFileError, load_report, read_report
from mailcert.report.prometheus import render_prometheus
from tests.report_fleet import fix_host, fix_plan, fleet
from tests.unit.test_fix_endpoints_render import restored_plan
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
        _fix_report(),
        _real_fix_report(),
    ]


def _fix_report() -> Report:
    hosts = [fix_host(n) for n in range(12)]
    return Report(generated_at=WHEN, evaluated_at=WHEN, hosts=tuple(hosts), plan=fix_plan(hosts))


def _real_fix_report() -> Report:
    """What `fix --format json` writes for a host whose change was rolled back: `endpoints_after` from the
    re-probe, made by the fix code itself (HostPlan → JSON)."""
    report = Report(WHEN, WHEN, (HostReport("mx1"), HostReport("mx2")), plan=())
    return with_endpoints_after(report, [restored_plan()])


def test_the_varied_fleet_has_every_severity_status_and_shape() -> None:
    hosts = fleet(40)
    assert {f.severity for h in hosts for f in h.findings} == set(Severity)
    assert {h.status for h in hosts} == set(Status)
    assert any(h.error for h in hosts) and any(e.served is None for h in hosts for e in h.endpoints)
    assert any(e.advertised_by for h in hosts for e in h.endpoints)
    assert any(len(h.renewals) == 2 for h in hosts) and any(not h.renewals for h in hosts)
    assert any(r.renewed_at.microsecond for h in hosts for r in h.renewals)
    fixed = [fix_host(n) for n in range(12)]
    assert any(h.endpoints_after for h in fixed) and any(h.endpoints_after == () for h in fixed)
    assert any(h.endpoints_after is None for h in fixed)  # unreachable: no pairs at all
    assert {"reload", "unfixable", "recovered"} <= {str(e["kind"]) for e in fix_plan(fixed)}


@pytest.mark.parametrize("index", range(7))
def test_render_read_render_is_the_same_json(index: int) -> None:
    text = render_json(_reports()[index])
    again = read_report(text)
    assert render_json(again) == text
    assert again.status is _reports()[index].status


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("index", range(7))
def test_what_is_read_back_renders_the_same_in_every_format(index: int, fmt: str) -> None:
    report = _reports()[index]
    assert render(read_report(render_json(report)), fmt) == render(report, fmt)


@pytest.mark.parametrize("index", range(7))
def test_what_is_read_back_gives_the_same_textfile(index: int) -> None:
    """Every time in it as the JSON has it: to the second (sample_report's generated_at has a fraction,
    as datetime.now() has; the fleet's renewal times too, as file times have)."""
    report = _reports()[index]
    assert render_prometheus(read_report(render_json(report))) == render_prometheus(report)


def test_the_real_fix_report_keeps_its_endpoints_after() -> None:
    document = json.loads(render_json(read_report(render_json(_real_fix_report()))))
    mx1, mx2 = document["hosts"]
    assert [(e["port"], e["hostname"], e["worse"]) for e in mx1["endpoints_after"]][:2] == [
        (993, "imap.example.test", True),
        (993, "pop.example.test", True),
    ]
    assert mx1["endpoints_after"][0]["after"]["not_after"] == "2027-01-01T00:00:00Z"
    assert "endpoints_after" not in mx2  # no plan for it


def test_reading_keeps_the_model() -> None:
    report = _reports()[1]
    again = read_report(render_json(report))
    assert [h.name for h in again.hosts] == [h.name for h in report.hosts]
    assert [(h.findings, h.error) for h in again.hosts] == [(h.findings, h.error) for h in report.hosts]
    assert again.evaluated_at == report.evaluated_at


def test_keys_neither_spec_nor_the_additions_name_are_ignored() -> None:
    document = json.loads(render_json(_reports()[2]))
    document["hosts"][0]["future_field"] = [{"port": 25}]
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
    elif change == "renewal time":
        host["renewals"][0]["renewed_at"] = "last week"
    elif change == "renewals":
        host["renewals"] = {"mx001.example.test": "2026-10-02T00:00:00Z"}
    elif change == "endpoints_after":
        fixed = json.loads(render_json(_reports()[5]))
        fixed["hosts"][1]["endpoints_after"][0]["after"]["verdict"] = "great"
        return json.dumps(fixed)
    elif change == "worse":
        fixed = json.loads(render_json(_reports()[5]))
        fixed["hosts"][1]["endpoints_after"][0]["worse"] = "no"
        return json.dumps(fixed)
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
        ("renewal time", "hosts[1].renewals[0].renewed_at: 'last week' is not an ISO-8601 time"),
        ("renewals", "hosts[1].renewals: expected a list"),
        ("endpoints_after", "hosts[1].endpoints_after[0].after.verdict: 'great' is not one of ok, warning"),
        ("worse", "hosts[1].endpoints_after[0].worse: expected true or false"),
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
