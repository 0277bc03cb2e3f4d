"""The client matrix recorded again on a lab of its own (one host per fault of the kind it needs, planted at `lab
up`, every (host, port) asked in parallel) and compared with docs/clients.json, which `make clients` wrote: every
stack's verdict must be the recorded one, and where the stack judged the certificate, its exact words too. A fault a
stack lets through is in the table as such (a fact about the stack); a verdict that changes is a failure here —
re-record with `make clients` and check symptoms.yml (tests/unit/test_client_truth.py) when a stack's behaviour
really changed. `mailcert audit` of the same lab must report each fault's checks (FAULT_CHECKS), so the table's
link from a fault to the checks symptoms.yml is read by is what audit says, not a guess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailcert.lab import lifecycle
from mailcert.lab.client_matrix import FAULT_CHECKS, HEALTHY, Row, bring_up, fault_hosts, load_rows, record_on
from mailcert.lab.layout import LabHost
from tests.lab.fixture import LabManager, own_lab

RECORDED = Path(__file__).resolve().parents[2] / "docs" / "clients.json"
# Messages of a stack that judged the certificate (deterministic); connection-level messages (a reset, an EOF, a
# plaintext line read as a record) depend on timing inside the server and are compared by verdict only.
CERTIFICATE_WORDS = (
    "verify error:",
    "NOT trusted",
    "authentication of server cert failed",
    "certificate rejected",
)
# lab up (one host per fault) + every stack on every port; CI's whole `make test` must stay near 40 min
BUDGET_SECONDS = 240
MAILCERT = str(Path(sys.executable).parent / "mailcert")
PROBED = ("leaf-only", "expired", "stale")  # `mailcert probe --client all` on these hosts' port 25


def probe_clients(host: LabHost, cafile: Path) -> dict[str, Any]:
    done = subprocess.run(
        [MAILCERT, "probe", f"smtp.{host.domain}:25", "--address", host.address, "--ca-bundle", str(cafile),
         "--client", "all", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1, 2), done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def audited_checks(lab_dir: Path) -> dict[str, set[str]]:
    """`mailcert audit` of the whole lab (its own inventory): each host's critical and warning checks."""
    done = subprocess.run(
        [MAILCERT, "-I", str(lab_dir / "inventory.yml"), "audit", "--forks", "16", "--format", "json"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    hosts: list[dict[str, Any]] = json.loads(done.stdout)["hosts"]
    serious = ("critical", "warning")
    return {h["name"]: {f["check"] for f in h["findings"] if f["severity"] in serious} for h in hosts}


@dataclass(frozen=True)
class Recorded:
    rows: list[Row]
    seconds: float  # lab up + every stack on every port
    probed: dict[str, dict[str, Any]]  # fault → `mailcert probe --client all` of its host's port 25
    audited: dict[str, set[str]]  # fault → the checks `mailcert audit` reported on its host


@pytest.fixture(scope="module")
def recorded_now(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    lab_dir = own_lab(lab_manager, tmp_path_factory.mktemp("client-matrix") / "lab")
    started = time.monotonic()
    hosts = bring_up(lab_dir, say=lambda _: None)
    try:
        rows = record_on(lab_dir, hosts, str(lab_dir / "ca-bundle.pem"))
        seconds = time.monotonic() - started
        by_fault = dict(zip(fault_hosts(), hosts, strict=True))
        probed = {fault: probe_clients(by_fault[fault], lab_dir / "ca-bundle.pem") for fault in PROBED}
        by_host = audited_checks(lab_dir)
        audited = {fault: by_host[host.name] for fault, host in by_fault.items()}
    finally:
        lifecycle.down(lab_dir, say=lambda _: None)
    yield Recorded(rows, seconds, probed, audited)


def keyed(rows: list[Row]) -> dict[tuple[str, int, str], Row]:
    return {(r.fault, r.port, r.stack): r for r in rows}


def test_every_stack_gives_the_recorded_verdict(recorded_now: Recorded) -> None:
    now, recorded = keyed(recorded_now.rows), keyed(load_rows(RECORDED.read_text()))
    assert set(now) == set(recorded)
    changed = [
        (key, recorded[key].message, now[key].message) for key in now if now[key].ok != recorded[key].ok
    ]
    assert changed == [], "verdicts differ from docs/clients.json (re-record with `make clients`)"


def test_certificate_messages_are_the_recorded_words(recorded_now: Recorded) -> None:
    now, recorded = keyed(recorded_now.rows), keyed(load_rows(RECORDED.read_text()))
    differ = [
        (key, recorded[key].message, now[key].message)
        for key, row in recorded.items()
        if any(word in row.message for word in CERTIFICATE_WORDS) and now[key].message != row.message
    ]
    assert differ == []


def test_the_recording_stays_fast_enough_for_ci(recorded_now: Recorded) -> None:
    assert recorded_now.seconds < BUDGET_SECONDS


def test_probe_client_says_what_the_lab_stacks_did(recorded_now: Recorded) -> None:
    rows, probed = recorded_now.rows, recorded_now.probed
    for fault, document in probed.items():
        (view,) = [v for v in document["clients"] if v["port"] == 25]
        nss = next(r for r in rows if r.fault == fault and r.port == 25 and r.stack == "nss")
        openssl = next(r for r in rows if r.fault == fault and r.port == 25 and r.stack == "openssl")
        # a stack that rejected the endpoint: its family fails; one that let it through: its family does not
        assert (view["verdicts"]["thunderbird"] == "fails") == (not nss.ok), (fault, view)
        assert (view["verdicts"]["openssl"] == "fails") == (not openssl.ok), (fault, view)
    leaf_only = next(v for v in probed["leaf-only"]["clients"] if v["port"] == 25)
    assert leaf_only["verdicts"]["outlook"] == "aia"
    assert leaf_only["summary"].startswith("Outlook, Apple Mail may pass through AIA; Thunderbird, Android")


def test_audit_reports_each_faults_checks_on_its_host(recorded_now: Recorded) -> None:
    assert recorded_now.audited[HEALTHY] == set()
    missed = {
        fault: sorted(set(checks) - recorded_now.audited[fault])
        for fault, checks in FAULT_CHECKS.items()
        if not set(checks) <= recorded_now.audited[fault]
    }
    assert missed == {}, recorded_now.audited
