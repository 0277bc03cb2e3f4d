"""`mailcert report merge`: three shard reports give what one unsharded run gives, in every format, in the
Prometheus file (each lineage's last renewal included) and in the exit code, for audit/verify and for fix
reports (each host's `endpoints_after`, recovered runs last in the plan); a host in two reports, or a file
that is no report, is exit 3."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailcert.cli import main
from mailcert.errors import UsageError
from mailcert.inventory.shard import Shard, select_shard
from mailcert.model import HostReport, Report
from mailcert.report import FORMATS, render
from mailcert.report.json import render_json
from mailcert.report.merge import merge_reports
from mailcert.report.prometheus import render_prometheus
from tests.report_fleet import fix_host, fix_plan, fleet

START = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(["mailcert", *argv])
    return int(exited.value.code or 0)


def _shard_files(tmp_path: Path, hosts: list[HostReport], count: int = 3, fix: bool = False) -> list[str]:
    """Each shard as its own job wrote it: its own hosts, a few seconds apart (`fix`: with its plan)."""
    paths = []
    for k in range(1, count + 1):
        moment = START + timedelta(seconds=7 * k)
        mine = select_shard(hosts, Shard(k, count))
        plan = fix_plan(mine) if fix else None
        report = Report(generated_at=moment, evaluated_at=moment, hosts=tuple(mine), plan=plan)
        path = tmp_path / f"shard-{k}.json"
        path.write_text(render_json(report), encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("fmt", FORMATS)
def test_three_shards_merge_to_the_unsharded_run(tmp_path: Path, fmt: str) -> None:
    hosts = fleet(60)
    unsharded = Report(
        generated_at=START + timedelta(seconds=7),
        evaluated_at=START + timedelta(seconds=7),
        hosts=tuple(hosts),
    )
    files = _shard_files(tmp_path, list(reversed(hosts)))  # the order inside a shard does not matter
    out = tmp_path / f"merged.{fmt}"
    prom = tmp_path / "merged.prom"
    code = _run(
        [
            "report",
            "merge",
            *reversed(files),
            "--format",
            fmt,
            "--output",
            str(out),
            "--prometheus",
            str(prom),
        ]
    )
    assert out.read_text(encoding="utf-8") == render(unsharded, fmt)
    assert prom.read_text(encoding="utf-8") == render_prometheus(unsharded)
    assert code == unsharded.status.exit_code == 2


def _merge(tmp_path: Path, files: list[str], fmt: str = "json") -> tuple[int, str, str]:
    out = tmp_path / f"merged.{fmt}"
    prom = tmp_path / "merged.prom"
    code = _run(["report", "merge", *files, "--format", fmt, "--output", str(out), "--prometheus", str(prom)])
    return code, out.read_text(encoding="utf-8"), prom.read_text(encoding="utf-8")


def _renewal_samples(prom: str) -> dict[tuple[str, str], float]:
    return {
        (s.labels["host"], s.labels["lineage"]): s.value
        for family in text_string_to_metric_families(prom)
        for s in family.samples
        if s.name == "mailcert_last_renewal_timestamp_seconds"
    }


def test_merged_textfile_has_every_lineages_last_renewal(tmp_path: Path) -> None:
    """Worked out by hand from tests/report_fleet.py: mxN renewed 2026-10-01 + N days (+ a fraction of a
    second, which the textfile drops as the JSON does), the odd ones also `-0001` on 2026-01-01; none on
    mx002/mx005 (no certbot) and mx003 (unreachable)."""
    hosts = fleet(7)
    code, merged, prom = _merge(tmp_path, _shard_files(tmp_path, hosts))
    jan1 = 1767225600  # 2026-01-01T00:00:00Z; 2026-10-01 is 273 days later
    oct1 = jan1 + 273 * 86400
    assert _renewal_samples(prom) == {
        ("mx000.example.test", "mx000.example.test"): oct1,
        ("mx001.example.test", "mx001.example.test"): oct1 + 86400,  # 00:00:00.25 in the report
        ("mx001.example.test", "mx001.example.test-0001"): jan1,
        ("mx004.example.test", "mx004.example.test"): oct1 + 4 * 86400,
        ("mx006.example.test", "mx006.example.test"): oct1 + 6 * 86400,  # 00:00:00.5
    }
    mx001 = json.loads(merged)["hosts"][1]
    assert mx001["renewals"] == [
        {"lineage": "mx001.example.test", "renewed_at": "2026-10-02T00:00:00Z"},
        {"lineage": "mx001.example.test-0001", "renewed_at": "2026-01-01T00:00:00Z"},
    ]
    unsharded = Report(START + timedelta(seconds=7), START + timedelta(seconds=7), tuple(hosts))
    assert prom == render_prometheus(unsharded) and merged == render_json(unsharded)
    assert code == 3  # mx003 unreachable and no critical finding among mx000–mx006


def _fix_hosts(count: int) -> list[HostReport]:
    return [fix_host(n) for n in range(count)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_three_fix_shards_merge_to_the_unsharded_fix(tmp_path: Path, fmt: str) -> None:
    hosts = _fix_hosts(60)
    moment = START + timedelta(seconds=7)
    unsharded = Report(moment, moment, tuple(hosts), plan=fix_plan(hosts))
    code, merged, prom = _merge(tmp_path, list(reversed(_shard_files(tmp_path, hosts, fix=True))), fmt)
    assert merged == render(unsharded, fmt)
    assert prom == render_prometheus(unsharded)
    assert code == unsharded.status.exit_code == 2


def test_merged_fix_report_keeps_endpoints_after_and_puts_recovered_runs_last(tmp_path: Path) -> None:
    """Written out by hand from tests/report_fleet.py's fix_host and fix_plan."""
    hosts = _fix_hosts(12)
    _, merged, _ = _merge(tmp_path, _shard_files(tmp_path, hosts, fix=True))
    document = json.loads(merged)
    by_name = {h["name"]: h for h in document["hosts"]}
    view = {
        "reason": None,
        "subject": "mx001.example.test",
        "sans": ["mx001.example.test"],
        "not_after": "2027-01-02T00:00:00Z",
        "sha256": "01" * 32,
    }
    assert by_name["mx001.example.test"]["endpoints_after"] == [
        {
            "service": "postfix",
            "port": 25,
            "mode": "starttls",
            "hostname": "mx001.example.test",
            "before": {"verdict": "fails", **view, "reason": "cert.expired: expired"},
            "after": {"verdict": "ok", **view},
            "after_from": "re-probe",
            "worse": False,
        }
    ]
    assert by_name["mx002.example.test"]["endpoints_after"][0]["after_from"] == "plan"
    assert by_name["mx004.example.test"]["endpoints_after"] == []  # planned, no (port, name) pair
    assert "endpoints_after" not in by_name["mx003.example.test"]  # unreachable: never planned
    recovered = [(e["host"], e["run_id"]) for e in document["plan"] if e["kind"] == "recovered"]
    assert recovered == [
        ("mx001.example.test", "20261206T010000Z-3f9a1c"),
        ("mx006.example.test", "20261206T060000Z-3f9a1c"),
        ("mx011.example.test", "20261206T010000Z-3f9a1c"),
    ]
    assert [e["kind"] for e in document["plan"][-3:]] == ["recovered"] * 3  # after every host's changes
    assert len(document["plan"]) == 12 + 4 + 3  # a reload per host, unfixable on mx000/3/6/9, 3 recovered


def test_exit_code_of_the_whole(tmp_path: Path) -> None:
    """Critical beats unknown beats warning beats ok, across files as within one run (SPEC)."""
    hosts = {h.status.value: h for h in fleet(12)}
    for statuses, code in [
        (["ok"], 0),
        (["ok", "warning"], 1),
        (["warning", "unknown"], 3),
        (["unknown", "critical", "ok"], 2),
    ]:
        files = []
        for status in statuses:
            path = tmp_path / f"{status}.json"
            path.write_text(render_json(Report(START, START, (hosts[status],))), encoding="utf-8")
            files.append(str(path))
        assert _run(["report", "merge", *files, "--output", str(tmp_path / "out.txt")]) == code, statuses


def test_times_are_the_earliest_and_hosts_sorted() -> None:
    a, b, c = fleet(3)
    later = START + timedelta(hours=1)
    merged = merge_reports([("2.json", Report(later, START, (c, a))), ("1.json", Report(START, later, (b,)))])
    assert (merged.generated_at, merged.evaluated_at) == (START, START)
    assert [h.name for h in merged.hosts] == sorted(h.name for h in (a, b, c))
    assert merged.plan is None


def test_plans_follow_their_hosts() -> None:
    a, b = fleet(2)
    first = Report(START, START, (b,), plan=({"host": b.name, "kind": "edit"},))
    second = Report(START, START, (a,), plan=({"host": a.name, "kind": "reload"}, {"kind": "note"}))
    merged = merge_reports([("1.json", first), ("2.json", second), ("3.json", Report(START, START, ()))])
    assert merged.plan == (
        {"host": a.name, "kind": "reload"},
        {"host": b.name, "kind": "edit"},
        {"kind": "note"},
    )


def test_a_host_in_two_reports_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hosts = fleet(6)
    one = tmp_path / "one.json"
    two = tmp_path / "two.json"
    one.write_text(render_json(Report(START, START, tuple(hosts[:4]))), encoding="utf-8")
    two.write_text(render_json(Report(START, START, tuple(hosts[3:]))), encoding="utf-8")
    assert _run(["report", "merge", str(one), str(two)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"host '{hosts[3].name}' is in both {one} and {two}" in err
    assert _run(["report", "merge", str(one), str(one)]) == 3
    assert f"{one} is given twice" in capsys.readouterr().err
    with pytest.raises(UsageError):
        merge_reports([])


@pytest.mark.parametrize(
    "content,says",
    [
        (None, "no such file"),
        ("garbage\n", "not JSON"),
        ('{"version": "2.1.0", "runs": []}', "not a mailcert report"),
        ('{"schema": "mailcert/1", "hosts": [{}]}', "hosts[0].name: missing"),
    ],
)
def test_a_file_that_is_no_report_is_one_line_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, says: str
) -> None:
    good = tmp_path / "good.json"
    good.write_text(render_json(Report(START, START, tuple(fleet(2)))), encoding="utf-8")
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    assert _run(["report", "merge", str(good), str(bad), "--output", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"mailcert: {bad}: ") and says in err and err.count("\n") == 1
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_bad_format_and_prometheus_name_are_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(render_json(Report(START, START, ())), encoding="utf-8")
    assert _run(["report", "merge", str(path), "--format", "nagios"]) == 3
    assert _run(["report", "merge", str(path), "--prometheus", str(tmp_path / "x.txt")]) == 3


def _loopback_inventory(tmp_path: Path, count: int) -> Path:
    """Hosts nobody can reach, deterministically and without traffic leaving loopback: half refuse on
    127.0.0.x port 1 (nothing listens there), half stop before connecting (no known_hosts file)."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    lines = ["all:", "  hosts:"]
    for n in range(count):
        known = empty if n % 2 else tmp_path / "missing_known_hosts"
        lines += [
            f"    mx{n:02d}:",
            f"      ansible_host: 127.0.0.{1 + n % 3}",
            "      ansible_port: 1",
            f"      mailcert_known_hosts: {known}",
        ]
    path = tmp_path / "inventory.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _without_times(text: str) -> list[str]:
    return [
        line for line in text.splitlines() if '"generated_at"' not in line and '"evaluated_at"' not in line
    ]


def test_end_to_end_audit_shards_merge_to_the_unsharded_audit(tmp_path: Path) -> None:
    """`audit --no-probe --shard K/3` three times, merged, against one `audit --no-probe`: the same JSON but
    for the times, and the same exit code."""
    inventory = _loopback_inventory(tmp_path, 10)
    at = ["--at", "2027-01-01T00:00:00Z", "--timeout", "5", "--no-probe", "--format", "json"]
    whole = tmp_path / "whole.json"
    whole_code = _run(["audit", "-I", str(inventory), *at, "--output", str(whole)])
    shards = [tmp_path / f"audit-{k}.json" for k in (1, 2, 3)]
    for k, path in enumerate(shards, start=1):
        _run(["audit", "-I", str(inventory), *at, "--shard", f"{k}/3", "--output", str(path)])
    assert all(path.read_text().count('"name"') < 10 for path in shards)  # each shard holds part of the fleet
    merged = tmp_path / "merged.json"
    code = _run(["report", "merge", *map(str, shards), "--format", "json", "--output", str(merged)])
    assert _without_times(merged.read_text()) == _without_times(whole.read_text())
    assert '"evaluated_at": "2027-01-01T00:00:00Z"' in merged.read_text()
    assert code == whole_code == 3


def test_help_and_bare_report_list_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["report", "merge", "--help"]) == 0
    out = capsys.readouterr().out
    assert "report.merge" in out and "--prometheus" in out and "--format" in out
    assert _run(["report"]) == 0
    assert "report.merge" in capsys.readouterr().out


def test_shard_help_says_k_counts_from_one() -> None:
    # A fresh process each: Invoke hands a task's help texts out once per process.
    for task in ("audit", "verify", "fix"):
        shown = subprocess.run(
            [sys.executable, "-m", "mailcert", task, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert "K counts from 1" in " ".join(shown.split()), task
