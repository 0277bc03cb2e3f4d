"""bench/audit_bench.py's report from measured rows (no lab): targets said met or MISSED, never hidden."""

from __future__ import annotations

from bench.audit_bench import AuditRow, LabRow, render

PROFILE = """
100.0% <module>  <string>:1
`- 100.0% audit_host  mailcert/tasks/audit_host.py:56
   |- 86.1% gather_host  mailcert/gather/remote.py:12
   |  `- 14.8% StrictConnection._load_known_hosts  mailcert/ssh.py:120
   `- 9.0% probe_endpoints  mailcert/tasks/audit_host.py:168
"""


def _audit(hosts: int, forks: int, wall: float, rss: float = 100.0, execs: str = "1") -> AuditRow:
    return AuditRow(hosts, forks, wall, rss, hosts * 0.5, 1.0, "1", execs, "ok", hosts)


def test_a_missed_target_is_said_and_speed_ups_are_computed() -> None:
    labs = [LabRow(100, 48.0, 30.0, 51.0, 6.0, 6.5, 10.0, 871.0, 400, 0.14)]
    audits = [_audit(100, 1, 272.3), _audit(100, 10, 125.7), _audit(100, 50, 132.5, rss=194.0)]
    text = render(labs, audits, 50, PROFILE)
    assert "| 100 | 50 | 132.5 s | 1.32 s | 194 MB | 0.50 s |" in text
    assert "100 hosts: speed-up over forks 1 — forks 10: 2.2×, forks 50: 2.1×" in text
    assert "under 60 s: 132.5 s (MISSED)" in text
    assert "largest 194 MB (met)" in text
    assert "1 exec (the gather) per host in every run: yes" in text
    assert "400 lines for 100 hosts: 0.14 s of control CPU per host" in text
    assert "_load_known_hosts 14.8%" in text and "probe_endpoints 9.0%" in text


def test_more_than_one_exec_per_host_is_a_no() -> None:
    text = render([], [_audit(10, 1, 20.0, execs="1/2")], 50)
    assert "per host in every run: NO" in text
    assert "Profile" not in text  # no profile from this run: none shown
