"""An exim-dovecot lab host (real Debian Exim from scripts/install-exim): its ports and its faults,
seen from outside by real clients. Runs a lab of its own (the shared one is down meanwhile)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcert.lab import lifecycle
from tests.lab.clients import greeting, s_client_chain_length, tls_connect, unverified, verify
from tests.lab.fixture import LabManager, one_host_lab

pytestmark = pytest.mark.lab

HOST = "mx1"
ADDRESS = "10.213.0.11"
SMTP = "smtp.mx1.mailcert.test"


@pytest.fixture(scope="module")
def exim_lab(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from one_host_lab(lab_manager, tmp_path_factory, "exim-dovecot")


@pytest.fixture
def exim_host(exim_lab: Path) -> Iterator[Path]:
    yield exim_lab
    lifecycle.reset_host(exim_lab, HOST)


def test_exim_and_dovecot_serve_the_lab_certificate_on_every_port(exim_host: Path) -> None:
    bundle = str(exim_host / "ca-bundle.pem")
    for port in (25, 587, 465, 143, 993, 110, 995):
        verdict = verify(ADDRESS, port, SMTP, bundle)
        assert verdict.ok, (port, verdict)
    assert s_client_chain_length(ADDRESS, 25, SMTP) == 2
    status = lifecycle.status(exim_host)
    assert status["hosts"] == [
        {
            "name": HOST, "kind": "exim-dovecot", "address": ADDRESS,
            "hostnames": ["mail.mx1.mailcert.test", SMTP, "imap.mx1.mailcert.test", "pop.mx1.mailcert.test"],
            "state": "running", "services": {"sshd": "running", "exim": "running", "dovecot": "running"}, "faults": [],
        }
    ]  # fmt: skip


def test_exim_leaf_only(exim_host: Path) -> None:
    lifecycle.plant_fault(exim_host, HOST, "leaf-only")
    for port in (25, 465):
        assert s_client_chain_length(ADDRESS, port, SMTP) == 1
        verdict = verify(ADDRESS, port, SMTP, str(exim_host / "ca-bundle.pem"))
        assert not verdict.ok and "local issuer" in verdict.reason


def test_exim_wrong_modes(exim_host: Path) -> None:
    lifecycle.plant_fault(exim_host, HOST, "wrong-mode-587")
    assert greeting(ADDRESS, 587) == b""
    with tls_connect(ADDRESS, 587, SMTP, unverified(), implicit=True) as tls:
        assert tls.version() is not None
    lifecycle.reset_host(exim_host, HOST)
    lifecycle.plant_fault(exim_host, HOST, "wrong-mode-465")
    assert greeting(ADDRESS, 465).startswith(b"220 ")
