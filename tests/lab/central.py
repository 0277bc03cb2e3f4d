"""Fixtures for central issuance: the lab's BIND (challenge zones for every lab host name, forwarding the
rest to the lab's mock DNS) and a second Pebble that validates DNS-01 through it.

Use from a test module:  `from tests.lab.central import central_acme  # noqa: F401` (`release_central_acme`:
the same for the lab of `release_lab`, on each Debian release).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailcert.lab import pebble
from mailcert.lab.bind import CentralPebble, LabBind
from mailcert.lab.network import GATEWAY
from mailcert.lab.pki import LabCA
from tests.lab.fixture import Lab, LabManager


@dataclass
class CentralACME:
    bind: LabBind
    pebble: CentralPebble
    ca_bundle: Path  # the lab's roots plus this Pebble's issuing root

    @property
    def directory(self) -> str:
        return self.pebble.directory


@contextmanager
def serving_central_acme(lab: Lab, work: Path) -> Iterator[CentralACME]:
    """BIND with challenge zones for every host name of `lab`, and a Pebble validating DNS-01 through it."""
    bind = LabBind(work / "bind", forward_to=(str(GATEWAY), pebble.DNS_PORT))
    bind.start([name for host in lab.hosts for name in host.hostnames])
    acme = CentralPebble(work / "pebble", dnsserver=bind.server)
    try:
        acme.start(LabCA.load(lab.dir / "pki"))
        root = acme.issuing_root(lab.dir / "pki" / "root-ca.pem")
        bundle = work / "ca-bundle.pem"
        bundle.write_bytes(lab.ca_bundle.read_bytes().rstrip(b"\n") + b"\n" + root)
        yield CentralACME(bind, acme, bundle)
    finally:
        acme.stop()
        bind.stop()


@pytest.fixture(scope="module")
def central_acme(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralACME]:
    with serving_central_acme(lab_manager.ensure_up(), tmp_path_factory.mktemp("central-acme")) as acme:
        yield acme


@pytest.fixture(scope="module")
def release_central_acme(
    release_lab_session: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CentralACME]:
    """central_acme for the lab of `release_lab` (fixture.RELEASES), the Debian 12 or the Debian 13 one."""
    with serving_central_acme(release_lab_session, tmp_path_factory.mktemp("central-acme")) as acme:
        yield acme
