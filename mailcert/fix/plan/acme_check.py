"""ACME pre-flight: before certbot asks the CA for names, each name must be able to validate. Otherwise
certbot fails at apply time, and the host's steps that do not need the new certificate are skipped with it.

A name cannot validate when (HTTP-01, `--standalone`/`--webroot`) it does not resolve, or resolves elsewhere
than the host's probe address; when the closest CAA RRset (RFC 8659) does not allow the CA; or when the
challenge cannot work at all (port 80 taken for `--standalone`, not served for `--webroot`; for DNS-01 the
name's zone does not answer). Such a name is named in the plan up front (`acme: …`, an `unfixable` entry),
and certbot is asked without it; when no name is left the certbot step is dropped with the edits that would
point services at its lineage. Every other step stays.

`preflight` is pure (plan + facts → plan); `with_acme_preflight` gathers the facts at the edge, through
the resolver the audit uses (`--resolver`, else mailcert_resolver, else the system's).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol
from urllib.parse import urlsplit

from mailcert.dns.acme import LETSENCRYPT_CAA, NameDns, caa_refusal, look_up
from mailcert.dns.resolver import DnsLookup, Outcome
from mailcert.facts import HostFiles
from mailcert.fix.model import Change, ChangeKind, Command, HostPlan
from mailcert.fix.plan.acme import SERVERS
from mailcert.inventory.model import InventoryHost
from mailcert.services.certbot.parser import read_certbot

Renewals = Mapping[str, tuple[tuple[str, ...], str | None]]  # lineage → (names, renewal authenticator)


@dataclass(frozen=True)
class AcmeFacts:
    """What the pre-flight judges: DNS for each requested name, the host's addresses and listening ports."""

    names: Mapping[str, NameDns]
    host_addresses: frozenset[str]  # the probe address (or the addresses its name resolves to)
    listening: frozenset[int] | None  # TCP ports listening on the host; None: not known
    ca_domain: str  # the CA's CAA issuer domain name (`letsencrypt.org`)
    resolver: str  # 'resolver 10.213.0.1:53', for messages
    # `certbot renew --cert-name NAME` asks for the lineage's names with its renewal conf's authenticator
    renewals: Renewals = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    name: str
    why: str
    todo: str


class GatheredFacts(HostFiles, Protocol):
    """The gathered host: its files (certbot's lineages) and its listening ports."""

    @property
    def listening_ports(self) -> frozenset[int]: ...


def ca_domain(host: InventoryHost) -> str:
    """The domain CAA `issue` values must name: mailcert_acme_caa_domain when set; `letsencrypt.org` for
    Let's Encrypt (production and staging); else the ACME server URL's host name."""
    if host.fix.acme_caa_domain:
        return host.fix.acme_caa_domain
    if host.acme_server in SERVERS or "api.letsencrypt.org" in host.acme_server:
        return LETSENCRYPT_CAA
    return (urlsplit(host.acme_server).hostname or host.acme_server).lower()


def requested_names(change: Change, renewals: Renewals | None = None) -> list[str]:
    """The `-d` names of a `certbot certonly` step; a `certbot renew --cert-name NAME` step's lineage names
    (from `renewals`); empty for any other step."""
    argv = change.command.argv if change.command else ()
    if change.kind is not ChangeKind.ISSUE:
        return []
    if argv[:2] == ("certbot", "certonly"):
        return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "-d"]
    if argv[:2] == ("certbot", "renew") and "--cert-name" in argv[:-1]:
        return list((renewals or {}).get(argv[argv.index("--cert-name") + 1], ((), None))[0])
    return []


def _challenge(argv: Sequence[str], renewals: Renewals) -> str:
    """standalone, webroot, dns, or http (a web server plugin, or not known: no port check)."""
    if argv[:2] != ("certbot", "renew"):
        return challenge_of(argv)
    authenticator = renewals.get(argv[argv.index("--cert-name") + 1], ((), None))[1] or ""
    if authenticator in ("standalone", "webroot"):
        return authenticator
    return "dns" if authenticator.startswith("dns") else "http"


def challenge_of(argv: Sequence[str]) -> str:
    """standalone, webroot, dns (a `--dns-PLUGIN`), else http (a web server plugin: no port check)."""
    if "--standalone" in argv:
        return "standalone"
    if "--webroot" in argv:
        return "webroot"
    return "dns" if any(word.startswith("--dns-") for word in argv) else "http"


def preflight(plan: HostPlan, facts: AcmeFacts) -> HostPlan:
    """The plan with every certbot request reduced to the names that can validate (see the module doc)."""
    if plan.error:
        return plan
    changes = list(plan.changes)
    lines: list[str] = []
    for change in plan.changes:
        names = requested_names(change, facts.renewals)
        if not names or change.command is None:
            continue
        argv = change.command.argv
        challenge = _challenge(argv, facts.renewals)
        renew = argv[:2] == ("certbot", "renew")
        refused = [r for r in (refusal(n, challenge, facts, argv) for n in names) if r is not None]
        lines += [unknown for n in names if (unknown := unchecked(n, challenge, facts)) is not None]
        if not refused:
            continue
        bad = {r.name for r in refused}
        good = [] if renew else [n for n in names if n not in bad]  # `certbot renew` cannot leave one out
        outcome = (
            f"certbot is asked for {', '.join(good)} without it"
            if good
            else "the renewal is not run (certbot renew asks for every name of the lineage; issue it again "
            "without this name)"
            if renew
            else "no certbot request is made"
        )
        lines += [
            f"acme: {r.name} cannot be validated by the CA ({facts.ca_domain}): {r.why} — {r.todo}; {outcome}"
            for r in refused
        ]
        index = changes.index(change)
        if good:
            changes[index] = without_names(change, names, good)
            continue
        held = dependent_edits(changes, argv)
        changes = [c for c in changes if c is not change and c not in held]
        if held:
            lines.append(
                f"acme: not run, as they need the certificate certbot cannot get: {', '.join(c.description for c in held)}"
            )
    if not lines:
        return plan
    return replace(plan, changes=tuple(changes), unfixable=tuple(dict.fromkeys((*plan.unfixable, *lines))))


def refusal(name: str, challenge: str, facts: AcmeFacts, argv: Sequence[str]) -> Refusal | None:
    """Why `name` cannot validate (what the CA would say), or None when nothing known stops it."""
    found = facts.names.get(name.lower().rstrip("."))
    if found is None:
        return None
    wildcard = name.startswith("*.")
    if challenge == "dns":
        if found.address_outcome.failed:
            return Refusal(name, f"its zone does not answer ({found.address_error})",
                           "fix the zone's name servers (DNS-01 publishes the challenge there)")  # fmt: skip
    else:
        if wildcard:
            return Refusal(name, "a wildcard name can only validate with DNS-01",
                           "set mailcert_acme_challenge: dns-<certbot plugin>, or list the names instead")  # fmt: skip
        port = port_problem(challenge, facts, argv)
        if port is not None:
            return Refusal(name, *port)
        where = ", ".join(sorted(facts.host_addresses)) or "the host"
        if found.address_outcome in (Outcome.NXDOMAIN, Outcome.NODATA) and not found.addresses:
            said = "NXDOMAIN" if found.address_outcome is Outcome.NXDOMAIN else "no A/AAAA record"
            return Refusal(name, f"it does not resolve ({said} from {facts.resolver})",
                           f"publish an A/AAAA record for {name} pointing at {where}, or remove it from "
                           "mailcert_hostnames")  # fmt: skip
        if (
            found.addresses
            and facts.host_addresses
            and not set(found.addresses) & facts.host_addresses
            and not behind_nat(found.addresses, facts.host_addresses)
        ):
            return Refusal(name, f"it resolves to {', '.join(found.addresses)}, not to this host ({where}): the "
                           "CA's HTTP-01 request goes to another server",
                           f"point {name} at {where}, or remove it from mailcert_hostnames (behind NAT, set "
                           "mailcert_probe_address to the public address)")  # fmt: skip
    if found.caa_error is not None:
        return Refusal(name, f"its CAA lookup fails ({found.caa_error}); CAs refuse to issue while it does",
                       "fix the zone (SERVFAIL is often a DNSSEC failure)")  # fmt: skip
    refused = caa_refusal(found.caa, facts.ca_domain, wildcard=wildcard)
    if refused is not None:
        return Refusal(name, f"{refused} (CAA at {found.caa_owner})",
                       f'add `{found.caa_owner}. IN CAA 0 issue "{facts.ca_domain}"`, or use a CA it allows '
                       "(mailcert_acme_server)")  # fmt: skip
    return None


def port_problem(challenge: str, facts: AcmeFacts, argv: Sequence[str]) -> tuple[str, str] | None:
    """HTTP-01 on the host: --standalone needs port 80 free, --webroot needs a web server on it."""
    if not facts.listening:  # not gathered: a mail host always listens somewhere
        return None
    if challenge == "standalone" and 80 in facts.listening:
        return (
            "certbot --standalone must answer the HTTP-01 challenge on port 80, and a program on the host "
            "(a web server?) already listens there",
            "set mailcert_acme_challenge: webroot and mailcert_acme_webroot to that web server's document "
            "root, or free port 80",
        )
    if challenge == "webroot" and 80 not in facts.listening:
        webroot = argv[argv.index("-w") + 1] if "-w" in argv[:-1] else "the webroot"
        return (
            f"nothing on the host listens on port 80 to serve {webroot} for the HTTP-01 challenge",
            "start the web server that serves the webroot on port 80, or set mailcert_acme_challenge: standalone",
        )
    return None


def behind_nat(addresses: Sequence[str], host: frozenset[str]) -> bool:
    """The host is probed at a private address and the name resolves to a public one: a host behind NAT
    or a load balancer, as many are. Whether that public address reaches this host cannot be told from
    here, so the name is not refused for it (the plan says so)."""

    def is_global(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).is_global
        except ValueError:
            return False

    return not any(is_global(a) for a in host) and any(is_global(a) for a in addresses)


def unchecked(name: str, challenge: str, facts: AcmeFacts) -> str | None:
    """A line when the address lookup failed, or when the name resolves to a public address while the
    host is probed at a private one (not knowing is no reason to leave the name out)."""
    found = facts.names.get(name.lower().rstrip("."))
    if found is None or challenge == "dns":
        return None
    if (
        found.addresses
        and not set(found.addresses) & facts.host_addresses
        and behind_nat(found.addresses, facts.host_addresses)
    ):
        return (
            f"acme: {name} resolves to {', '.join(found.addresses)}, and this host is probed at "
            f"{', '.join(sorted(facts.host_addresses))}: mailcert cannot tell whether the CA's HTTP-01 request "
            "reaches this host (NAT?); certbot is asked for it (set mailcert_probe_address to the public "
            "address to have it checked)"
        )
    if not found.address_outcome.failed or found.addresses:
        return None
    return (
        f"acme: {name} could not be checked before the request: {found.address_error}; certbot is asked "
        "for it anyway"
    )


def without_names(change: Change, names: Sequence[str], good: Sequence[str]) -> Change:
    """The certbot step asking only for `good` (its other options as they were)."""
    assert change.command is not None
    argv = list(change.command.argv)
    kept: list[str] = []
    skip = False
    for index, word in enumerate(argv):
        if skip:
            skip = False
            continue
        if word == "-d" and index + 1 < len(argv) and argv[index + 1] not in good:
            skip = True
            continue
        kept.append(word)
    description = change.description.replace(", ".join(names), ", ".join(good))
    return replace(change, command=Command(tuple(kept), change.command.env), description=description)


def dependent_edits(changes: Sequence[Change], argv: Sequence[str]) -> list[Change]:
    """File changes that would point a service at the lineage the dropped certbot step was to make."""
    name = argv[argv.index("--cert-name") + 1] if "--cert-name" in argv[:-1] else None
    if name is None:
        return []
    live = f"/live/{name}/"
    return [
        c
        for c in changes
        if c.file is not None and live in c.file.after and live not in (c.file.before or "")
    ]


def host_addresses(host: InventoryHost, lookup: DnsLookup) -> frozenset[str]:
    """The probe address, or what its name resolves to."""
    address = host.probe_address or host.address
    try:
        return frozenset({str(ipaddress.ip_address(address))})
    except ValueError:
        found = look_up([address], lookup).get(address.lower().rstrip("."))
        return frozenset(found.addresses) if found else frozenset()


def with_acme_preflight(
    plan: HostPlan,
    host: InventoryHost,
    gathered: GatheredFacts | None,
    resolver: str | None,
    lookup: DnsLookup | None = None,
) -> HostPlan:
    """`preflight` with facts gathered now (the edge): only names of planned `certbot certonly` steps are
    looked up. mailcert_acme_preflight: false (or central ACME mode) leaves the plan as it is."""
    if host.acme_mode != "host" or not host.fix.acme_preflight:
        return plan
    renewals = renewals_of(gathered) if gathered is not None else {}
    names = [n for change in plan.changes for n in requested_names(change, renewals)]
    if plan.error or not names:
        return plan
    if lookup is None:
        from mailcert.audit.domains import resolver_for

        lookup = resolver_for(resolver or host.resolver)
    facts = AcmeFacts(
        names=look_up(names, lookup),
        host_addresses=host_addresses(host, lookup),
        listening=gathered.listening_ports if gathered is not None else None,
        ca_domain=ca_domain(host),
        resolver=lookup.label,
        renewals=renewals,
    )
    return preflight(plan, facts)


def renewals_of(files: HostFiles) -> Renewals:
    """Each lineage's names and renewal authenticator, as `certbot renew` will use them."""
    return {lineage.name: (lineage.names, lineage.authenticator) for lineage in read_certbot(files).lineages}
