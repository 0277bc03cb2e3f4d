"""audit's probe of a host's endpoints: a name mismatch is reported for names clients use, not for the
bare address an endpoint without any advertised name is probed by (cPanel's default certificate whose names
all have their own SNI entries)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from mailcert.audit.host import probe_endpoints
from mailcert.checks.certs import CheckOptions
from mailcert.inventory.model import InventoryHost
from mailcert.model import ConfiguredCert, Endpoint, Mode
from mailcert.pki.trust import TrustStore
from mailcert.probe import ProbeTarget
from mailcert.probe.result import Observed, ProbeResult
from tests.pki import NOW, TestPKI

PKI = TestPKI()
SERVED = PKI.leaf(("mail.example.test",))
CHAIN = (SERVED.cert.public_bytes(Encoding.DER), PKI.intermediate.cert.public_bytes(Encoding.DER))


@pytest.fixture
def probed(monkeypatch: pytest.MonkeyPatch) -> list[ProbeTarget]:
    seen: list[ProbeTarget] = []

    def fake_probe_all(targets: Sequence[ProbeTarget], **_: object) -> list[ProbeResult]:
        seen.extend(targets)
        return [
            ProbeResult(
                hostname=t.hostname,
                address=t.address,
                port=t.port,
                expected_mode=Mode.IMPLICIT,
                observed=Observed.IMPLICIT,
                chain_der=CHAIN,
                tls_version="TLSv1.3",
                protocol="imap",
                service="imaps",
            )
            for t in targets
        ]

    monkeypatch.setattr("mailcert.probe.probe_all", fake_probe_all)
    return seen


def endpoint(*names: str) -> Endpoint:
    return Endpoint("dovecot", 993, Mode.IMPLICIT, names, ConfiguredCert("/etc/cert.pem", "/etc/key.pem"))


def checks_of(endpoints: Sequence[Endpoint]) -> list[tuple[str, int | None]]:
    host = InventoryHost(name="mx1", address="192.0.2.10", probe_address="127.0.0.1")
    options = CheckOptions(now=NOW, trust=TrustStore.of([PKI.root.cert]))
    _, findings = probe_endpoints(host, endpoints, options, [])
    return [(f.check, f.port) for f in findings]


def test_a_name_clients_use_that_the_served_certificate_lacks_is_a_mismatch(
    probed: list[ProbeTarget],
) -> None:
    assert ("cert.name-mismatch", 993) in checks_of([endpoint("imap.other.test")])
    assert [t.hostname for t in probed] == ["imap.other.test"]


def test_an_endpoint_without_any_client_name_is_probed_by_address_without_a_name_check(
    probed: list[ProbeTarget],
) -> None:
    assert checks_of([endpoint()]) == []
    assert [t.hostname for t in probed] == ["127.0.0.1"]  # still probed: what it serves is checked


def test_the_served_certificate_covering_the_name_is_clean(probed: list[ProbeTarget]) -> None:
    assert checks_of([endpoint("mail.example.test")]) == []
