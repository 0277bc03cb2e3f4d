"""DNSSEC on a real validating path: BIND (named) serves signed zones, dnsmasq validates them against a trust
anchor for the zone (`--dnssec --trust-anchor`) and sets AD, mailcert asks dnsmasq. A validated TLSA answer
makes a mismatch critical and a key change's wait say so; a zone whose signature does not verify is
SERVFAIL, reported as `unknown` findings, not a crash.

Loopback only (named 127.0.0.1:15353, dnsmasq 127.213.0.62:15354); no lab hosts needed.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailcert.checks.certs import CheckOptions
from mailcert.checks.dns import check_discovery
from mailcert.dns.discover import discover_domain
from mailcert.dns.resolver import Outcome, Resolver, parse_resolver
from mailcert.fix.plan.dane import dane_step
from mailcert.lab.procs import start_when_ready, stop_started
from mailcert.model import Mode, Severity
from mailcert.pki.trust import TrustStore
from mailcert.probe.result import Observed, ProbeResult
from tests.pki import NOW, TestPKI, new_key

pytestmark = pytest.mark.lab

NAMED = ("127.0.0.1", 15353)
VALIDATOR = ("127.213.0.62", 15354)
SIGNED = "signed.mailcert.test"
BOGUS = "bogus.mailcert.test"  # signed, then a record changed: its signature no longer verifies
# IANA's root KSK-2017: dnsmasq wants a root anchor; nothing here is ever looked up under the root.
ROOT_ANCHOR = ".,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"


def spki(key: object) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined,no-any-return]


def run(argv: list[str], cwd: Path) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


def signed_zone(folder: Path, zone: str, tlsa_hex: str, *, tamper: bool = False) -> str:
    """Sign a zone with a fresh KSK/ZSK (ECDSA P-256); returns dnsmasq's trust anchor for it."""
    body = (
        f"$TTL 300\n@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300\n@ IN NS ns.{zone}.\n"
        f"ns IN A {NAMED[0]}\nmail IN A 192.0.2.25\n@ IN MX 10 mail.{zone}.\n"
        f"_25._tcp.mail IN TLSA 3 1 1 {tlsa_hex}\n"
    )
    ksk = run(["dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", zone], folder).strip()
    zsk = run(["dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", zone], folder).strip()
    keys = (folder / f"{ksk}.key").read_text() + (folder / f"{zsk}.key").read_text()
    (folder / f"{zone}.db").write_text(body + keys)
    run(["dnssec-signzone", "-q", "-o", zone, "-k", f"{ksk}.key", f"{zone}.db", f"{zsk}.key"], folder)
    signed = folder / f"{zone}.db.signed"
    if tamper:  # what a botched manual edit of a signed zone serves
        signed.write_text(signed.read_text().replace("192.0.2.25", "192.0.2.26"))
    ds = (folder / f"dsset-{zone}.").read_text().split()
    return f"{zone},{ds[3]},{ds[4]},{ds[5]},{''.join(ds[6:])}"


def answers(address: str, port: int, zone: str) -> bool:
    try:
        dns.query.udp(dns.message.make_query(zone, "SOA"), address, port=port, timeout=0.2)
    except (dns.exception.DNSException, OSError):
        return False
    return True


@dataclass
class Validating:
    resolver: str
    pinned_spki: bytes


@pytest.fixture(scope="module")
def validating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Validating]:
    folder = tmp_path_factory.mktemp("dnssec")
    pinned = spki(new_key())
    digest = hashlib.sha256(pinned).hexdigest()
    anchors = [signed_zone(folder, SIGNED, digest), signed_zone(folder, BOGUS, digest, tamper=True)]
    zones = "".join(
        f'zone "{z}" {{ type primary; file "{folder}/{z}.db.signed"; }};\n' for z in (SIGNED, BOGUS)
    )
    conf = folder / "named.conf"
    conf.write_text(
        f'options {{ directory "{folder}"; listen-on port {NAMED[1]} {{ {NAMED[0]}; }}; listen-on-v6 {{ none; }};\n'
        "  recursion no; pid-file none; dnssec-validation no; };\ncontrols { };\n" + zones
    )
    named = start_when_ready(["named", "-g", "-c", str(conf)], lambda: answers(*NAMED, SIGNED), "named")
    dnsmasq_argv = [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--bind-interfaces", f"--listen-address={VALIDATOR[0]}", f"--port={VALIDATOR[1]}",
        f"--pid-file={folder / 'dnsmasq.pid'}", "--dnssec", f"--trust-anchor={ROOT_ANCHOR}",
        *(f"--trust-anchor={a}" for a in anchors),
        *(f"--server=/{z}/{NAMED[0]}#{NAMED[1]}" for z in (SIGNED, BOGUS)),
    ]  # fmt: skip
    try:
        dnsmasq = start_when_ready(dnsmasq_argv, lambda: answers(*VALIDATOR, SIGNED), "dnsmasq --dnssec")
    except BaseException:
        stop_started(*named)
        raise
    yield Validating(f"{VALIDATOR[0]}:{VALIDATOR[1]}", pinned)
    stop_started(*dnsmasq)
    stop_started(*named)


def test_a_signed_tlsa_answer_is_authenticated(validating: Validating) -> None:
    resolver = Resolver(parse_resolver(validating.resolver))
    answer = resolver.lookup(f"_25._tcp.mail.{SIGNED}", "TLSA")
    assert answer.outcome is Outcome.OK and answer.authenticated
    discovery = discover_domain(SIGNED, resolver)
    (tlsa,) = discovery.tlsa
    assert tlsa.authenticated and (tlsa.hostname, tlsa.port) == (f"mail.{SIGNED}", 25)


def test_a_validated_tlsa_mismatch_is_critical(validating: Validating) -> None:
    discovery = discover_domain(SIGNED, Resolver(parse_resolver(validating.resolver)))
    pki = TestPKI()
    served = pki.leaf([f"mail.{SIGNED}"])  # a key the TLSA record does not pin
    chain = (served.cert.public_bytes(Encoding.DER), pki.intermediate.cert.public_bytes(Encoding.DER))
    probe = ProbeResult(f"mail.{SIGNED}", "192.0.2.25", 25, Mode.STARTTLS, Observed.STARTTLS, chain_der=chain)
    opts = CheckOptions(now=NOW, trust=TrustStore.of([pki.root.cert]))
    findings = check_discovery(discovery, {(f"mail.{SIGNED}", 25, Mode.STARTTLS): probe}, opts)
    (finding,) = [f for f in findings if f.check == "dns.tlsa-mismatch"]
    assert finding.severity is Severity.CRITICAL and "DANE-validating senders" in finding.message


def test_a_key_change_under_validated_tlsa_waits_and_says_senders_enforce_it(validating: Validating) -> None:
    discovery = discover_domain(SIGNED, Resolver(parse_resolver(validating.resolver)))
    step = dane_step(discovery.tlsa, spki(new_key()), None)
    assert step.waiting and step.validated
    kept = dane_step(discovery.tlsa, validating.pinned_spki, None)
    assert not kept.waiting and kept.publish == ()


def test_a_bad_signature_is_servfail_and_unknown_findings(validating: Validating) -> None:
    resolver = Resolver(parse_resolver(validating.resolver), timeout=3)
    answer = resolver.lookup(f"mail.{BOGUS}", "A")
    assert answer.outcome.failed and "SERVFAIL" in answer.describe_failure()
    discovery = discover_domain(BOGUS, resolver)
    assert discovery.findings and all(f.severity is Severity.UNKNOWN for f in discovery.findings)
