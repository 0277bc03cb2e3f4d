"""A run's trust stores (mailcert.pki.trust.TrustStores): every host of a fleet that names the same CA bundles
gets the same store, read once; a bundle that cannot be read is an error for every host that names it."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mailcert.audit.host import AuditSettings
from mailcert.errors import UsageError
from mailcert.pki.trust import TrustStore, TrustStores
from tests.pki import NOW, TestPKI, cert_pem


def test_each_set_of_bundles_is_read_once_and_shared(tmp_path: Path) -> None:
    first, second = TestPKI("First"), TestPKI("Second")
    a, b = tmp_path / "a.pem", tmp_path / "b.pem"
    a.write_bytes(cert_pem(first.root.cert))
    b.write_bytes(cert_pem(second.root.cert))
    loads: list[tuple[str, ...]] = []

    def counting(bundles: tuple[str, ...] | list[str]) -> TrustStore:
        loads.append(tuple(bundles))
        return TrustStore.load(bundles, system=False)

    stores = TrustStores(counting)
    with ThreadPoolExecutor(8) as pool:  # hosts are audited in threads
        got = list(pool.map(stores, [[str(a)]] * 20 + [[str(a), str(b)]] * 20))
    assert sorted(set(loads)) == [(str(a),), (str(a), str(b))]  # each set loaded once, not once per host
    assert len(loads) == 2
    assert all(store is got[0] for store in got[:20])
    assert all(store is got[20] for store in got[20:])
    assert got[0].roots == (first.root.cert,)
    assert got[20].roots == (first.root.cert, second.root.cert)


def test_an_unreadable_bundle_fails_every_host_that_names_it(tmp_path: Path) -> None:
    stores = TrustStores()
    missing = str(tmp_path / "missing.pem")
    for _ in range(2):  # not cached as a success after the first failure
        with pytest.raises(UsageError, match="cannot read CA bundle"):
            stores([missing])


def test_audit_settings_share_one_loader_per_run_not_per_process() -> None:
    one, other = AuditSettings(now=NOW), AuditSettings(now=NOW)
    assert isinstance(one.trust_loader, TrustStores)
    assert one.trust_loader is not other.trust_loader  # a bundle edited between two runs is read again
