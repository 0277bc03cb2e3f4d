"""DANE in the fix plan: a renewal keeps the key while TLSA pins it (--reuse-key); a key change waits, with
the records to publish, until they are visible; mailcert_hostnames_from_dns adds the host's DNS names."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailcert.dns.discover import Advertised, DomainDiscovery, TlsaSet
from mailcert.dns.records import TlsaRecord
from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.fix.plan.dane import dane_safe, with_dns_names
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


def test_once_the_new_record_is_visible_the_switch_happens_keeping_the_key(expired: HostTree) -> None:
    old = spki_of(new_key())
    result = planned(expired, domain(pin(old), pin(spki_of(expired.leaf.key))))
    argv = issue_argv(result)
    assert argv is not None and argv[-1] == "--reuse-key"
    assert not any(line.startswith("dane:") for line in result.unfixable)


# -- the decision table: a TLSA record matching today (or not) x DNSSEC-validated (or not) x key kept (or not).
# Wait only when a validated record that matches the served certificate today would stop matching.


def cert_pin(leaf: x509.Certificate) -> TlsaRecord:
    """`3 0 1`: SHA-256 over the whole leaf (DER) — any new certificate breaks it, even with the key kept."""
    return TlsaRecord(3, 0, 1, hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest())


def record_line(spki: bytes, owner: str = f"_25._tcp.{MX}") -> str:
    return f"`{owner}. IN TLSA 3 1 1 {hashlib.sha256(spki).hexdigest()}`"


def dane_lines(result: HostPlan, kind: str) -> list[str]:
    return [line for line in result.unfixable if line.startswith(f"dane: {kind}")]


@pytest.fixture
def weak(tmp_path: Path) -> HostTree:
    """An expired lineage whose RSA-1024 key cannot be kept: its renewal makes a new key."""
    leaf = PKI.leaf(
        NAMES, not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=10), key="rsa1024"
    )
    return HostTree(tmp_path, PKI, leaf)


@pytest.mark.parametrize("signed", [True, False])
def test_matching_tlsa_and_the_key_kept_renews_keeping_it(expired: HostTree, signed: bool) -> None:
    result = planned(expired, domain(pin(spki_of(expired.leaf.key)), authenticated=signed))
    argv = issue_argv(result)
    assert argv is not None and argv[-1] == "--reuse-key"
    assert dane_lines(result, "") == []  # nothing to publish, nothing to wait for


def test_matching_validated_whole_certificate_pin_waits_with_the_key_record(expired: HostTree) -> None:
    # `3 0 1` of the served leaf is validated and in use: a renewal (same key) would break it
    result = planned(expired, domain(cert_pin(expired.leaf.cert), authenticated=True))
    assert issue_argv(result) is None
    (waiting,) = dane_lines(result, "waiting")
    assert record_line(spki_of(expired.leaf.key)) in waiting
    assert f"TLSA _25._tcp.{MX} matches the served certificate today" in waiting
    assert "DNSSEC-validated: DANE senders would defer mail" in waiting and "cert.expired" in waiting


def test_matching_unsigned_whole_certificate_pin_goes_ahead_and_lists_the_record(expired: HostTree) -> None:
    result = planned(expired, domain(cert_pin(expired.leaf.cert)))
    argv = issue_argv(result)
    assert argv is not None and argv[:2] == ("certbot", "renew")
    assert dane_lines(result, "waiting") == []
    (publish,) = dane_lines(result, "publish")
    assert record_line(spki_of(expired.leaf.key)) in publish and "advisory today" in publish


def test_matching_validated_tlsa_and_a_new_key_waits(weak: HostTree) -> None:
    result = planned(weak, domain(pin(spki_of(weak.leaf.key)), authenticated=True))
    assert issue_argv(result) is None
    (waiting,) = dane_lines(result, "waiting")
    assert "RSA 1024 bits (too weak)" in waiting and "DNSSEC-validated" in waiting


def test_matching_unsigned_tlsa_and_a_new_key_goes_ahead_saying_what_to_publish_after(weak: HostTree) -> None:
    result = planned(weak, domain(pin(spki_of(weak.leaf.key))))
    argv = issue_argv(result)
    assert argv is not None and "--reuse-key" not in argv  # certbot makes the new key
    (publish,) = dane_lines(result, "publish")
    assert "makes a new key (it is RSA 1024 bits (too weak))" in publish
    assert f"at _25._tcp.{MX} (not DNSSEC-validated: advisory today" in publish
    assert dane_lines(result, "waiting") == []


@pytest.mark.parametrize("signed", [True, False])
def test_stale_tlsa_does_not_block_and_keeping_the_key_buys_nothing(expired: HostTree, signed: bool) -> None:
    old = spki_of(new_key())  # DNS pins a key the host serves nowhere any more
    result = planned(expired, domain(pin(old), authenticated=signed))
    argv = issue_argv(result)
    # mailcert_reuse_key auto (SPEC): kept while TLSA records exist, so the record to publish is known now
    assert argv is not None and argv[:2] == ("certbot", "renew") and argv.count("--reuse-key") == 1
    assert dane_lines(result, "waiting") == []
    (stale,) = dane_lines(result, "stale")
    assert f"TLSA _25._tcp.{MX} already matches no certificate" in stale
    assert "keeping the key (--reuse-key) buys nothing for it" in stale
    (publish,) = dane_lines(result, "publish")
    assert record_line(spki_of(expired.leaf.key)) in publish
    assert ("advisory" in publish) is not signed


def test_stale_tlsa_and_a_key_that_cannot_be_kept_says_where_to_publish_the_new_one(tmp_path: Path) -> None:
    leaf = PKI.leaf(
        NAMES, not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=10), key="rsa1024"
    )
    tree = HostTree(tmp_path, PKI, leaf)
    result = planned(tree, domain(pin(spki_of(new_key())), authenticated=True))
    argv = issue_argv(result)
    assert argv is not None and "--reuse-key" not in argv
    (publish,) = dane_lines(result, "publish")
    assert f"publish its `3 1 1` record at _25._tcp.{MX}" in publish and "advisory" not in publish
    assert dane_lines(result, "waiting") == [] and len(dane_lines(result, "stale")) == 1


def test_stale_unsigned_tlsa_no_longer_blocks_adding_imap_and_pop(tmp_path: Path) -> None:
    """Issue 18 (6): the certificate lacks imap./pop., DNS pins a key no longer served, the zone is unsigned:
    the expansion goes ahead (iPhones and Outlook stop failing) and the plan says what to publish."""
    tree = HostTree(tmp_path, PKI, PKI.leaf(NAMES[:2]))
    result = planned(tree, domain(pin(spki_of(new_key()))))
    argv = issue_argv(result)
    assert argv is not None and "--expand" in argv
    assert [argv[i + 1] for i, word in enumerate(argv) if word == "-d"] == NAMES
    assert dane_lines(result, "waiting") == [] and len(dane_lines(result, "stale")) == 1


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
    asked = replace(host, fix=replace(host.fix, hostnames_from_dns=True))
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
    host = inventory_host(vars={"mailcert_hostnames_from_dns": "true"})
    host = with_dns_names(host, [replace(domain(), advertised=(srv,), tlsa=())])
    report, model = lint(tree, PKI, list(host.hostnames))
    from mailcert.fix.plan.planner import plan_from

    result = plan_from(LocalRoot(tree.root), model, report, host, now=NOW)  # type: ignore[arg-type]
    argv = issue_argv(result)
    assert argv is not None and "--expand" in argv and argv[argv.index("mx.example.test") - 1] == "-d"
    assert isinstance(report, HostReport)


def test_dns_findings_on_an_endpoint_the_plan_changes_are_not_called_dns_only() -> None:
    from mailcert.fix.model import Change
    from mailcert.fix.plan.dane import on_changed_endpoints

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
