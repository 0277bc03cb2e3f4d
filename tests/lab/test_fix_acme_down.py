"""certbot failing because the ACME server is stopped (the lab's Pebble process really stopped, not a wrong
URL): fix leaves every file of the host byte-identical, says certbot's reason in one line, and exits as the
host still is (critical: 2). Pebble is started again after the test, whatever happens, for the other tests."""

from __future__ import annotations

from pathlib import Path

from mailcert.lab import pebble
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import fix_inventory
from tests.lab.test_fix_cli import last_json, mailcert, tree_sums

HOST = "mx1"


def test_with_pebble_stopped_certbot_fails_and_the_host_is_byte_identical(lab: Lab, tmp_path: Path) -> None:
    lab.plant(HOST, "expired")  # the plan renews the lineage with certbot first
    inventory = str(fix_inventory(lab, tmp_path))
    planned = last_json(
        mailcert("-I", inventory, "fix", "--limit", HOST, "--dry-run", "--format", "json").stdout
    )
    assert [e["kind"] for e in planned["plan"]][:1] == ["issue"], planned["plan"]
    before = tree_sums(lab)

    with pebble.stopped(lab.dir):
        assert not pebble.running(lab.dir)
        done = mailcert("-I", inventory, "fix", "--limit", HOST, "-y", "--format", "json")
    assert pebble.running(lab.dir)

    assert tree_sums(lab) == before
    assert done.returncode == 2, done.stderr[-2000:]  # SPEC: the host is still critical
    report = last_json(done.stdout)
    issue = next(e for e in report["plan"] if e["kind"] == "issue")
    assert issue["outcome"] == "failed"
    reason = issue["error"]
    assert "\n" not in reason
    assert reason.startswith(
        "certbot failed (exit 1): cannot reach the ACME server (10.213.0.1/dir): connection refused"
    ), reason
    assert {e["outcome"] for e in report["plan"] if e["kind"] not in ("issue", "unfixable")} == {"skipped"}
    said = [
        line
        for line in done.stdout.splitlines() + done.stderr.splitlines()
        if "cannot reach the ACME" in line
    ]
    assert said and all("nothing else was changed" in line for line in said if line.startswith(HOST)), said


def test_pebble_started_again_issues_certificates(lab: Lab, tmp_path: Path) -> None:
    """After a stop and start the lab's Pebble answers with a new root that probes trust (the bundle)."""
    with pebble.stopped(lab.dir):
        pass
    lab.plant(HOST, "expired")
    inventory = str(fix_inventory(lab, tmp_path))

    done = mailcert("-I", inventory, "fix", "--limit", HOST, "-y", "--format", "json")

    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    report = last_json(done.stdout)
    critical = [f["check"] for h in report["hosts"] for f in h["findings"] if f["severity"] == "critical"]
    assert critical == []
