"""DANE and names from DNS in the plan: a renewal keeps the key while TLSA records pin it, a key change waits
until its TLSA record is visible, and (mailcert_hostnames_from_dns) names DNS gives the host are certified.

Runs around the planner (mailcert.fix.plan.planner), on what the audit found in the host's mail domains:
`with_dns_names` before planning (the inventory host gains the names), `dane_safe` after it (the certbot
step gains `--reuse-key`, or is withheld with the records to publish first). Pure: data in, data out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from mailcert.audit.lint import HostModel
from mailcert.dns.discover import DomainDiscovery, TlsaSet
from mailcert.dns.rollover import names_from_dns
from mailcert.dns.tlsa import next_tlsa_record, tlsa_matches, tlsa_owner
from mailcert.facts import HostFiles
from mailcert.fix.model import Change, ChangeKind, Command, HostPlan
from mailcert.inventory.model import InventoryHost
from mailcert.model import HostReport
from mailcert.services.certbot.parser import read_certbot
from mailcert.services.registry import SERVICES

REUSE_KEY = "--reuse-key"


@dataclass(frozen=True)
class DaneStep:
    """What DANE asks of one certbot step: keep the key, wait for records (`publish`) to be visible, or go
    ahead and have the admin publish records after (advisory TLSA, or records that match nothing today)."""

    owners: tuple[str, ...]  # the TLSA owners of the host's endpoints (`_25._tcp.mail.example.com`)
    key_spki: (
        bytes | None
    )  # the key the new certificate will carry (the lineage's own, kept); None: a new one
    publish: tuple[str, ...]  # `3 1 1` records for that key not yet published (empty: none needed)
    why_new_key: str | None = None  # the key cannot be kept (missing, unreadable, too weak)
    validated: bool = False  # every TLSA answer came DNSSEC-validated (AD): DANE senders enforce it today
    blocking: tuple[str, ...] = ()  # validated owners whose record matching today would stop matching
    stale: tuple[str, ...] = ()  # owners whose records match nothing the host serves today
    later: tuple[str, ...] = ()  # owners needing a record for a key made by certbot (unknown until then)

    @property
    def waiting(self) -> bool:
        return bool(self.blocking)

    @property
    def keeps_key(self) -> bool:
        return self.key_spki is not None


def host_tlsa(
    discoveries: Sequence[DomainDiscovery], names: Sequence[str], addresses: Sequence[str]
) -> list[TlsaSet]:
    """The TLSA RRsets of the host's own endpoints: for a name the host serves, or one DNS puts at its address."""
    own = {n.lower().rstrip(".") for n in names}
    at = set(addresses)
    found: list[TlsaSet] = []
    for discovery in discoveries:
        for tlsa in discovery.tlsa:
            name = tlsa.hostname.lower()
            if name in own or discovery.addresses.get(tlsa.hostname) in at:
                found.append(tlsa)
    return found


def pins_spki(tlsa: TlsaSet, spki: bytes) -> bool:
    """A DANE-EE/PKIX-EE record for this SubjectPublicKeyInfo (`3 1 1`, `3 1 2`, `3 1 0`) is published."""
    digests = {0: spki, 1: hashlib.sha256(spki).digest(), 2: hashlib.sha512(spki).digest()}
    return any(
        r.usage in (1, 3) and r.selector == 1 and digests.get(r.matching) == r.data for r in tlsa.records
    )


def weak_key(spki: bytes) -> str | None:
    """Why a key may not be kept (RSA < 2048, EC < 256 bits), or None."""
    try:
        key = load_der_public_key(spki)
    except ValueError:
        return "its public key cannot be read"
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        return f"it is RSA {key.key_size} bits (too weak)"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < 256:
        return f"it is EC {key.curve.key_size} bits (too weak)"
    return None


Chain = Sequence[x509.Certificate]


def dane_step(
    tlsa: Sequence[TlsaSet],
    key_spki: bytes | None,
    why_not: str | None,
    today: Mapping[int, Sequence[Chain]] | None = None,
) -> DaneStep:
    """DANE's verdict on one certbot step that would switch the host to a certificate with `key_spki`.

    Wait only when a record that matches today (`today`: the chains the host serves, by port; None: assume
    every RRset matches) would stop matching AND its answer is DNSSEC-validated: only then do DANE senders
    defer mail. Otherwise go ahead and list the records to publish. The key is kept (`--reuse-key`) when it
    can be (mailcert_reuse_key auto: TLSA records exist); for records that match nothing today keeping it
    buys nothing, which the plan says (`stale`)."""
    owners = tuple(dict.fromkeys(tlsa_owner(t.hostname, t.port) for t in tlsa))
    validated = bool(tlsa) and all(t.authenticated for t in tlsa)
    keepable = key_spki if key_spki is not None and not why_not else None
    matching = [t for t in tlsa if matches_today(t, today)]
    # mailcert_reuse_key auto (SPEC): the key is kept while the endpoints have TLSA records, so the `3 1 1`
    # record to publish can be named now; only a key that cannot be kept leaves certbot to make a new one.
    new_spki = keepable
    why_new = None if new_spki is not None else why_not or "the lineage has no readable key"
    breaking = [t for t in tlsa if new_spki is None or not pins_spki(t, new_spki)]
    blocking = [t for t in breaking if t in matching and t.authenticated]
    publish = (
        () if new_spki is None else tuple(next_tlsa_record(t.hostname, t.port, new_spki) for t in breaking)
    )
    return DaneStep(
        owners,
        new_spki,
        tuple(dict.fromkeys(publish)),
        why_new,
        validated,
        blocking=_owners(blocking),
        stale=_owners(t for t in tlsa if t not in matching),
        later=_owners(breaking) if new_spki is None else (),
    )


def matches_today(tlsa: TlsaSet, today: Mapping[int, Sequence[Chain]] | None) -> bool:
    """A record of the RRset matches a chain the host serves on its port (any port's when none is known)."""
    if today is None:
        return True
    chains = today.get(tlsa.port) or [c for chains in today.values() for c in chains]
    if not chains:
        return True  # nothing known about what is served: assume the records are in use
    return any(tlsa_matches(r, chain) for r in tlsa.records for chain in chains)


def _owners(sets: Iterable[TlsaSet]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tlsa_owner(t.hostname, t.port) for t in sets))


def served_chains(files: HostFiles, report: HostReport) -> dict[int, list[Chain]]:
    """The chains the host's endpoints are configured with today, by port (what their TLSA must match)."""
    found: dict[int, list[Chain]] = {}
    for endpoint in report.endpoints:
        path = endpoint.configured.cert_file
        if not path:
            continue
        chain = [c for c in (_load(der) for der in files.pem_file(path).certificates) if c is not None]
        if chain and chain not in found.setdefault(endpoint.port, []):
            found[endpoint.port].append(chain)
    return found


def _load(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def _cert_name(argv: Sequence[str]) -> str | None:
    return argv[argv.index("--cert-name") + 1] if "--cert-name" in argv[:-1] else None


def _key_of(files: HostFiles, cert_name: str) -> tuple[bytes | None, str | None]:
    """The SubjectPublicKeyInfo of the lineage's privkey.pem (what --reuse-key keeps), and why it cannot be kept."""
    certbot = read_certbot(files)
    lineage = certbot.lineage(cert_name)
    if lineage is None:
        return None, f"lineage {cert_name} does not exist yet: certbot makes a new key"
    keys = files.pem_file(lineage.privkey).keys
    spki = keys[0].public_key_der if keys else None
    if spki is None:
        return None, f"{lineage.privkey} holds no readable key"
    return spki, weak_key(spki)


def dane_safe(
    plan: HostPlan,
    files: HostFiles | None,
    host: InventoryHost,
    report: HostReport,
    discoveries: Sequence[DomainDiscovery],
) -> HostPlan:
    """The plan made DANE-safe (`_keep_dane`), and DNS findings about endpoints it changes said so."""
    if not discoveries:
        return plan
    return on_changed_endpoints(_keep_dane(plan, files, host, report, discoveries))


def _keep_dane(
    plan: HostPlan,
    files: HostFiles | None,
    host: InventoryHost,
    report: HostReport,
    discoveries: Sequence[DomainDiscovery],
) -> HostPlan:
    """The plan with every certbot step DANE-safe: `--reuse-key` while the host's endpoints have TLSA records;
    withheld (listed in `unfixable` with the records to publish first) only when a DNSSEC-validated record
    that matches today would stop matching; otherwise the records to publish are listed (`dane_step`).
    mailcert_reuse_key: false turns this off."""
    if plan.error or files is None or host.reuse_key is False:
        return plan
    names = [*host.hostnames, *(n for e in report.endpoints for n in e.hostnames if not e.advertised_by)]
    addresses = [host.probe_address or host.address]
    tlsa = host_tlsa(discoveries, names, addresses)
    if not tlsa:
        return plan
    today = served_chains(files, report)
    changes: list[Change] = []
    waiting: list[tuple[Change, DaneStep, str]] = []
    notes: list[str] = []
    for change in plan.changes:
        argv = change.command.argv if change.command else ()
        name = _cert_name(argv) if change.kind is ChangeKind.ISSUE and argv[:1] == ("certbot",) else None
        if name is None or change.command is None:
            changes.append(change)
            continue
        step = dane_step(tlsa, *_key_of(files, name), today)
        if step.waiting:
            waiting.append((change, step, name))
            continue
        notes += publish_lines(step, change)
        if not step.keeps_key:
            changes.append(change)
            continue
        keep = argv if REUSE_KEY in argv else (*argv, REUSE_KEY)
        pinning = [o for o in step.owners if o not in step.stale]
        changes.append(
            replace(
                change,
                command=Command(keep, change.command.env),
                description=f"{change.description} (key kept: TLSA {', '.join(pinning)} pins it)"
                if pinning
                else change.description,
            )
        )
    plan = replace(plan, unfixable=tuple(dict.fromkeys((*plan.unfixable, *notes))))
    if not waiting:
        return replace(plan, changes=tuple(changes))
    unfixable = list(plan.unfixable)
    for change, step, name in waiting:
        live = f"/live/{name}/"
        # Edits that would point a service at the withheld lineage wait with it.
        held = [
            c
            for c in changes
            if c.file is not None and live in c.file.after and live not in (c.file.before or "")
        ]
        changes = [c for c in changes if c not in held]
        removes = ", ".join(dict.fromkeys(r for c in (change, *held) for r in c.removes)) or "the certificate"
        unfixable.append(waiting_line(step, change, removes))
    return replace(plan, changes=tuple(changes), unfixable=tuple(unfixable))


# Findings the DNS stage reports about what an advertised endpoint serves (a name not covered, the other
# mode, a TLSA or MTA-STS mismatch): they change when the endpoint does, though no DNS edit is planned.
_ENDPOINT_FINDINGS = ("dns.", "cert.name-mismatch ", "config.mode-mismatch ")
_SERVICE_PORTS = {name: set(service.ports) for name, service in SERVICES.items()}


def on_changed_endpoints(plan: HostPlan) -> HostPlan:
    """`not fixed: dns.srv-mismatch submission:587: needs a DNS change` is wrong when this plan changes what
    port 587 serves: such entries say instead that the endpoint changes and is re-probed after apply."""
    changed_ports: set[int] = set()
    for change in plan.changes:
        for removed in change.removes:
            where = removed.partition(" ")[2]
            service, _, port = where.partition(":")
            changed_ports |= {int(port)} if port.isdigit() else _SERVICE_PORTS.get(service, set())
    unfixable = []
    for line in plan.unfixable:
        head = line.partition(": ")[0]
        port = head.rpartition(":")[2]
        if line.startswith(_ENDPOINT_FINDINGS) and port.isdigit() and int(port) in changed_ports:
            line = f"{head}: this plan changes what port {port} serves; re-probed after apply (the DNS itself is unchanged)"
        if line not in unfixable:
            unfixable.append(line)
    return replace(plan, unfixable=tuple(unfixable))


def waiting_line(step: DaneStep, change: Change, removes: str) -> str:
    """The unfixable-for-now entry: what to publish, and that the next `fix` switches once it is visible."""
    enforced = "DNSSEC-validated: DANE senders would defer mail"
    assert change.command is not None
    command = change.command.shown()
    blocking = ", ".join(step.blocking)
    if step.key_spki is None:
        return (
            f"dane: waiting — {removes}: TLSA {blocking} pins the current key and the new certificate "
            f"needs a new key ({step.why_new_key}); make the new key first, publish its `3 1 1` record next to "
            f"the old one ({enforced}), then renew with it (certbot --reuse-key); not run: {command}"
        )
    return (
        f"dane: waiting — {removes}: TLSA {blocking} matches the served certificate today; publish first, next "
        "to the current records: "
        + "; ".join(f"`{r}`" for r in step.publish)
        + f" ({enforced}); run `mailcert fix` again once DNS answers with them (wait the TTL): the certificate "
        f"is then switched, keeping this key; not run yet: {command} --reuse-key"
    )


def publish_lines(step: DaneStep, change: Change) -> list[str]:
    """What the admin publishes when the certbot step goes ahead: the `3 1 1` records for the kept key, or
    (certbot makes a new key) a record for it once issued; and that stale records make keeping the key moot."""
    lines: list[str] = []
    advisory = (
        "" if step.validated else " (not DNSSEC-validated: advisory today, enforced once the zone is signed)"
    )
    if step.publish:
        lines.append(
            f"dane: publish — after `{change.description}`, TLSA must pin the kept key{advisory}: publish "
            + "; ".join(f"`{r}`" for r in step.publish)
            + " (mailcert does not edit DNS)"
        )
    elif step.later:
        lines.append(
            f"dane: publish — `{change.description}` makes a new key ({step.why_new_key}); once it is issued, "
            f"publish its `3 1 1` record at {', '.join(step.later)}{advisory} (`mailcert audit` prints it in "
            "dns.tlsa-mismatch; mailcert does not edit DNS)"
        )
    if step.stale:
        lines.append(
            f"dane: stale — TLSA {', '.join(step.stale)} already matches no certificate the host serves: this "
            "change breaks nothing there, and keeping the key (--reuse-key) buys nothing for it; replace the "
            "stale records with the new key's"
        )
    return lines


def with_dns_names(
    host: InventoryHost, discoveries: Sequence[DomainDiscovery], config_names: Sequence[str] = ()
) -> InventoryHost:
    """mailcert_hostnames_from_dns: true — the names DNS gives this host (MX, SRV, autoconfig and autodiscover
    targets at its address) join the names its certificate must cover."""
    if not host.fix.hostnames_from_dns or not discoveries:
        return host
    addresses = {host.probe_address or host.address}
    at_host = {
        item.hostname.lower()
        for d in discoveries
        for item in d.advertised
        if item.address is not None and item.address in addresses
    }
    added = [n for n in names_from_dns(discoveries) if n.lower() in at_host]
    base = list(host.hostnames) or list(config_names)
    names = tuple(dict.fromkeys([*base, *added]))
    return replace(host, hostnames=names) if names != host.hostnames else host


def config_names(model: HostModel | None) -> list[str]:
    """The names the host's configuration advertises (used when the inventory lists none)."""
    return [] if model is None else [n for service in model.services for n in service.config_names]
