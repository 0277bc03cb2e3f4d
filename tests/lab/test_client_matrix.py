"""The client matrix recorded again on a lab of its own (one host per fault, planted at `lab up`, every (host,
port) asked in parallel) and compared with docs/clients.json, which `make clients` wrote: every stack's verdict
must be the recorded one, and where the stack judged the certificate, its exact words too. A fault a stack lets
through is in the table as such (a fact about the stack); a verdict that changes is a failure here — re-record with
`make clients` and check symptoms.yml (tests/unit/test_client_truth.py) when a stack's behaviour really changed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcert.lab import lifecycle
from mailcert.lab.client_matrix import Row, bring_up, load_rows, record_on
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
BUDGET_SECONDS = (
    240  # lab up (one host per fault) + every stack on every port; CI's whole `make test` is ~40 min
)


@pytest.fixture(scope="module")
def recorded_now(
    lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[Row], float]]:
    lab_dir = own_lab(lab_manager, tmp_path_factory.mktemp("client-matrix") / "lab")
    started = time.monotonic()
    hosts = bring_up(lab_dir, say=lambda _: None)
    try:
        rows = record_on(lab_dir, hosts, str(lab_dir / "ca-bundle.pem"))
    finally:
        lifecycle.down(lab_dir, say=lambda _: None)
    yield rows, time.monotonic() - started


def keyed(rows: list[Row]) -> dict[tuple[str, int, str], Row]:
    return {(r.fault, r.port, r.stack): r for r in rows}


def test_every_stack_gives_the_recorded_verdict(recorded_now: tuple[list[Row], float]) -> None:
    now, recorded = keyed(recorded_now[0]), keyed(load_rows(RECORDED.read_text()))
    assert set(now) == set(recorded)
    changed = [
        (key, recorded[key].message, now[key].message) for key in now if now[key].ok != recorded[key].ok
    ]
    assert changed == [], "verdicts differ from docs/clients.json (re-record with `make clients`)"


def test_certificate_messages_are_the_recorded_words(recorded_now: tuple[list[Row], float]) -> None:
    now, recorded = keyed(recorded_now[0]), keyed(load_rows(RECORDED.read_text()))
    differ = [
        (key, recorded[key].message, now[key].message)
        for key, row in recorded.items()
        if any(word in row.message for word in CERTIFICATE_WORDS) and now[key].message != row.message
    ]
    assert differ == []


def test_the_recording_stays_fast_enough_for_ci(recorded_now: tuple[list[Row], float]) -> None:
    assert recorded_now[1] < BUDGET_SECONDS
