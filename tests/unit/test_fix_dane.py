"""DANE in the fix plan: a renewal keeps the key while TLSA pins it (--reuse-key); a key change waits, with
the records to publish, until they are visible; mailcert_hostnames_from_dns adds the host's DNS names."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailcert.dns.discover import Advertised, DomainDiscovery, TlsaSet
from mailcert.dns.records import TlsaRecord
from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.fix.plan_dane import dane_safe, with_dns_names
from mailcert.hostfs import LocalRoot
from mailcert.model import HostReport, Mode
from tests.fix_trees import inventory_host, lint, plan
from tests.lint_trees import LINEAGE, NAMES, HostTree
from tests.pki import NOW, PrivateKey, new_key
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
MX = "mail.example.test"


def spki_of(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def pin(spki: bytes) -> TlsaRecord:
    return TlsaRecord(3, 1, 1, hashlib.sha256(spki).digest())


def domain(*records: TlsaRecord, authenticated: bool = False) -> DomainDiscovery:
    return DomainDiscovery(
        domain="example.test",
        resolver="192.0.2.53",
        tlsa=(TlsaSet(MX, 25, records, authenticated),),
        addresses={MX: "127.0.0.1"},
    )


@pytest.fixture
def expired(tmp_path: Path) -> HostTree:
    """A host whose lineage expired: the plan renews it (certbot renew --force-renewal)."""
    leaf = PKI.leaf(NAMES, not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=10))
    return HostTree(tmp_path, PKI, leaf)


def planned(tree: HostTree, *discoveries: DomainDiscovery) -> HostPlan:
    host = inventory_host()
    report, _ = lint(tree, PKI, NAMES)
    return dane_safe(plan(tree, PKI, host), LocalRoot(tree.root), host, report, discoveries)


def issue_argv(result: HostPlan) -> tuple[str, ...] | None:
    issues = [c for c in result.changes if c.kind is ChangeKind.ISSUE]
    assert len(issues) <= 1
    return issues[0].command.argv if issues and issues[0].command else None


def test_without_tlsa_the_renewal_is_as_the_planner_made_it(expired: HostTree) -> None:
    host = inventory_host()
    report, _ = lint(expired, PKI, NAMES)
    before = plan(expired, PKI, host)
    assert issue_argv(before) is not None and "--reuse-key" not in (issue_argv(before) or ())
    assert dane_safe(before, LocalRoot(expired.root), host, report, []) == before


def test_tlsa_pinning_the_key_makes_the_renewal_keep_it(expired: HostTree) -> None:
    result = planned(expired, domain(pin(spki_of(expired.leaf.key))))
    argv = issue_argv(result)
    assert argv is not None and argv[:4] == ("certbot", "renew", "--cert-name", LINEAGE)
    assert argv[-1] == "--reuse-key" and argv.count("--reuse-key") == 1
    assert not any(line.startswith("dane:") for line in result.unfixable)


def test_key_change_prints_the_record_and_withholds_the_switch(expired: HostTree) -> None:
    old = spki_of(new_key())  # DNS pins a key the lineage no longer has
    result = planned(expired, domain(pin(old), authenticated=True))
    assert issue_argv(result) is None  # certbot does not run: the new certificate would break DANE
    (waiting,) = [line for line in result.unfixable if line.startswith("dane: waiting")]
    expected = hashlib.sha256(spki_of(expired.leaf.key)).hexdigest()
    assert f"`_25._tcp.{MX}. IN TLSA 3 1 1 {expected}`" in waiting
    assert "DNSSEC-validated: DANE senders would defer mail" in waiting
    assert "cert.expired" in waiting and "run `mailcert fix` again once DNS answers" in waiting


def test_once_the_new_record_is_visible_the_switch_happens_keeping_the_key(expired: HostTree) -> None:
    old = spki_of(new_key())
    result = planned(expired, domain(pin(old), pin(spki_of(expired.leaf.key))))
    argv = issue_argv(result)
    assert argv is not None and argv[-1] == "--reuse-key"
    assert not any(line.startswith("dane:") for line in result.unfixable)


def test_a_weak_key_cannot_be_kept_and_the_switch_waits(tmp_path: Path) -> None:
    leaf = PKI.leaf(
        NAMES, not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=10), key="rsa1024"
    )
    tree = HostTree(tmp_path, PKI, leaf)
    result = planned(tree, domain(pin(spki_of(leaf.key))))
    assert issue_argv(result) is None
    (waiting,) = [line for line in result.unfixable if line.startswith("dane: waiting")]
    assert "RSA 1024 bits (too weak)" in waiting and "advisory" in waiting


def test_mailcert_reuse_key_false_leaves_the_plan_alone(expired: HostTree) -> None:
    host = inventory_host(reuse_key=False)
    report, _ = lint(expired, PKI, NAMES)
    before = plan(expired, PKI, host)
    assert dane_safe(before, LocalRoot(expired.root), host, report, [domain(pin(b"x"))]) == before


def test_hostnames_from_dns_adds_the_names_dns_puts_at_the_host() -> None:
    srv = Advertised("mx.example.test", 993, "imap", Mode.IMPLICIT, "SRV _imaps._tcp.example.test", "srv",
                     address="127.0.0.1")  # fmt: skip
    elsewhere = Advertised("imap.other.test", 143, "imap", Mode.STARTTLS, "autoconfig https://x", "autoconfig",
                           address="192.0.2.99")  # fmt: skip
    found = replace(domain(), advertised=(srv, elsewhere))
    host = inventory_host(NAMES)
    assert with_dns_names(host, [found]) is host  # not asked for
    asked = replace(host, vars={"mailcert_hostnames_from_dns": True})
    assert with_dns_names(asked, [found]).hostnames == (*NAMES, "mx.example.test")
    # names from the configuration are kept when the inventory lists none
    bare = replace(asked, hostnames=())
    assert with_dns_names(bare, [found], ["mail.example.test"]).hostnames == (
        "mail.example.test",
        "mx.example.test",
    )


def test_hostnames_from_dns_makes_the_plan_expand_the_certificate(tmp_path: Path) -> None:
    tree = HostTree(tmp_path, PKI)
    srv = Advertised(
        "mx.example.test", 25, "smtp", Mode.STARTTLS, "MX of example.test", "mx", address="127.0.0.1"
    )
    host = replace(inventory_host(), vars={"mailcert_hostnames_from_dns": "true"})
    host = with_dns_names(host, [replace(domain(), advertised=(srv,), tlsa=())])
    report, model = lint(tree, PKI, list(host.hostnames))
    from mailcert.fix.planner import plan_from

    result = plan_from(LocalRoot(tree.root), model, report, host, now=NOW)  # type: ignore[arg-type]
    argv = issue_argv(result)
    assert argv is not None and "--expand" in argv and argv[argv.index("mx.example.test") - 1] == "-d"
    assert isinstance(report, HostReport)


def test_dns_findings_on_an_endpoint_the_plan_changes_are_not_called_dns_only() -> None:
    from mailcert.fix.model import Change
    from mailcert.fix.plan_dane import on_changed_endpoints

    fix_587 = Change(ChangeKind.EDIT, "remove wrappermode from 587", ("config.mode-mismatch postfix:587",))
    expand = Change(ChangeKind.ISSUE, "expand", ("cert.name-mismatch dovecot",))  # no port: all of Dovecot's
    before = HostPlan(
        "mx1",
        changes=(fix_587, expand),
        unfixable=(
            "dns.srv-mismatch submission:587: needs a DNS change (mailcert does not edit DNS)",
            "dns.srv-mismatch imaps:993: needs a DNS change (mailcert does not edit DNS)",
            "dns.mta-sts-mismatch smtp:25: needs a DNS change (mailcert does not edit DNS)",
            "tls.unreachable dovecot: the port does not answer",
        ),
    )
    after = on_changed_endpoints(before)
    assert after.unfixable == (
        "dns.srv-mismatch submission:587: this plan changes what port 587 serves; re-probed after apply (the DNS "
        "itself is unchanged)",
        "dns.srv-mismatch imaps:993: this plan changes what port 993 serves; re-probed after apply (the DNS "
        "itself is unchanged)",
        "dns.mta-sts-mismatch smtp:25: needs a DNS change (mailcert does not edit DNS)",  # port 25 not changed
        "tls.unreachable dovecot: the port does not answer",
    )
