"""bench/audit_bench.py's report from measured rows (no lab): targets said met or MISSED, never hidden."""

from __future__ import annotations

from bench.audit_bench import AuditRow, LabRow, render

PROFILE = """
100.0% <module>  <string>:1
`- 100.0% audit_host  mailcert/audit/host.py:56
   |- 86.1% gather_host  mailcert/gather/remote.py:12
   |  `- 14.8% StrictConnection._load_known_hosts  mailcert/ssh.py:120
   `- 9.0% probe_endpoints  mailcert/audit/host.py:168
"""


def _audit(
    hosts: int, forks: int, wall: float, rss: float = 100.0, execs: str = "1", machine_cpu: float = 0.0
) -> AuditRow:
    return AuditRow(hosts, forks, wall, rss, hosts * 0.5, 1.0, "1", execs, "ok", hosts, machine_cpu)


def test_a_missed_target_is_said_and_speed_ups_are_computed() -> None:
    labs = [LabRow(100, 48.0, 30.0, 51.0, 6.0, 6.5, 10.0, 871.0, 400, 0.14)]
    audits = [
        _audit(100, 1, 272.3, machine_cpu=250.0),
        _audit(100, 10, 125.7, machine_cpu=230.0),
        _audit(100, 50, 132.5, rss=194.0, machine_cpu=300.0),
    ]
    text = render(labs, audits, 50, PROFILE, cpus=2)
    assert "| 100 | 50 | 132.5 s | 1.32 s | 194 MB | 0.50 s | 3.00 s |" in text
    # by hand: 272.3 / 125.7 = 2.17; 230 CPU-s on 2 CPUs need 115 s, 272.3 / 115 = 2.37 → 91 %
    assert (
        "forks 10: 2.2× of at most 2.4× this machine allows (91%; the run's 230 CPU-s need ≥ 115.0 s" in text
    )
    # 300 CPU-s / 2 = 150 s, more than the wall time (other work ran too): shown as computed, 272.3 / 150 = 1.82
    assert "forks 50: 2.1× of at most 1.8× this machine allows (113%" in text
    assert "within 40 s: 132.5 s (MISSED)" in text
    assert "at most 0.1 s: 0.50 s (MISSED)" in text  # by hand: 100 hosts × 0.5 CPU-s / 100
    assert "at most 200 MB: largest 194 MB (met)" in text
    assert "1 exec (the gather) per host in every run: yes" in text
    assert "400 lines for 100 hosts take paramiko 0.14 s of control CPU to load" in text
    assert "_load_known_hosts 14.8%" in text and "probe_endpoints 9.0%" in text


def test_more_than_one_exec_per_host_is_a_no() -> None:
    text = render([], [_audit(10, 1, 20.0, execs="1/2")], 50)
    assert "per host in every run: NO" in text
    assert "Profile" not in text  # no profile from this run: none shown


def test_speed_up_ceiling_is_forks_when_the_cpu_is_not_the_limit() -> None:
    from bench.audit_bench import ceiling

    one = _audit(10, 1, 50.0, machine_cpu=10.0)
    # 10 CPU-s on 2 CPUs fit in 5 s; 50 / 5 = 10 would allow 10×, forks 4 allows 4×
    assert ceiling(one, _audit(10, 4, 14.0, machine_cpu=10.0), 2) == 4.0
    # 40 CPU-s on 2 CPUs need 20 s: at most 50 / 20 = 2.5×
    assert ceiling(one, _audit(10, 10, 21.0, machine_cpu=40.0), 2) == 2.5


def test_latency_bound_check_has_its_own_table_and_speed_up() -> None:
    from bench.audit_bench import render_latency

    text = render_latency(
        [_audit(10, 1, 53.0, machine_cpu=18.0), _audit(10, 10, 13.8, machine_cpu=18.0)], 300, 2
    )
    assert "behind a 300 ms one-way delay" in text
    assert "| 10 | 10 | 13.8 s | 1.80 s | 10/10 ok |" in text
    # by hand: 53.0 / 13.8 = 3.84; 18 CPU-s on 2 CPUs need 9 s, 53 / 9 = 5.9 → 65 %
    assert "forks 10: 3.8× of at most 5.9× this machine allows (65%" in text
    assert render_latency([], 300) == ""


def test_issue_23_targets_met_are_said_met() -> None:
    row = AuditRow(100, 50, 38.5, 180.0, 8.0, 1.0, "1", "1", "ok", 100, 70.0)
    text = render([], [row], 50, cpus=2)
    assert "within 40 s: 38.5 s (met)" in text
    assert "at most 0.1 s: 0.08 s (met)" in text  # by hand: 8.0 CPU-s / 100 hosts
    assert "at most 200 MB: largest 180 MB (met)" in text


def test_the_floor_the_lab_hosts_own_work_sets_is_said() -> None:
    # 100 hosts, machine 103 CPU-s, control 18 CPU-s: hosts' side 0.85 CPU-s each, 85 CPU-s on 2 CPUs ≥ 42.5 s
    row = AuditRow(100, 50, 51.7, 135.0, 18.0, 0.7, "1", "1", "ok", 100, 103.0)
    text = render([], [row], 50, cpus=2)
    assert "own work was 0.85 CPU-s per host" in text
    assert "need at least 42.5 s on 2 CPUs" in text
    assert "the 40 s target is below that floor on this machine" in text
