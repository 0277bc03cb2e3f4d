"""Findings for what a mail domain advertises in DNS and client-configuration documents, against what the
advertised endpoints serve: dns.mx-not-covered, dns.srv-mismatch, config.mode-mismatch (advertised mode),
dns.tlsa-mismatch, dns.mta-sts-mismatch, and the certificates of the autoconfig/autodiscover/mta-sts sites."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from cryptography import x509

from mailcert.catalogue import Where
from mailcert.checks.certs import CheckOptions, check_chain
from mailcert.checks.served import check_probe, mode_phrase, served_chain
from mailcert.dns.discover import Advertised, DomainDiscovery, TlsaSet
from mailcert.dns.mtasts import mx_allowed
from mailcert.dns.tlsa import USAGE_NAMES, next_tlsa_record, spki_der, tlsa_matches, tlsa_owner, usable
from mailcert.model import Finding, Mode, Severity
from mailcert.pki.certinfo import describe, san_dns_names, san_ip_addresses
from mailcert.pki.names import covers
from mailcert.probe import target_for
from mailcert.probe.registry import STANDARD_PORTS
from mailcert.probe.result import ProbeResult, ProbeTarget
from mailcert.quoting import shell_command

ProbeKey = tuple[str, int, Mode]
# What check_probe says that the source-aware checks below say better for advertised endpoints.
_SAID_HERE = frozenset({"config.mode-mismatch", "cert.name-mismatch"})
_STS_BREAKERS = frozenset(
    {"cert.name-mismatch", "cert.expired", "cert.self-signed", "cert.untrusted", "cert.chain-incomplete",
     "cert.not-yet-valid", "cert.no-san"}
)  # fmt: skip


def probe_key(advertised: Advertised) -> ProbeKey:
    """Which probe answers for an advertised endpoint: name, port and the mode to try first."""
    role = STANDARD_PORTS.get(advertised.port)
    mode = advertised.mode or (role.mode if role else Mode.STARTTLS)
    return advertised.hostname, advertised.port, mode


def dns_targets(discoveries: Sequence[DomainDiscovery]) -> dict[ProbeKey, ProbeTarget]:
    """One probe target per advertised (name, port, mode), connecting where our resolver said the name is."""
    targets: dict[ProbeKey, ProbeTarget] = {}
    for discovery in discoveries:
        for item in discovery.advertised:
            key = probe_key(item)
            if key not in targets and item.address is not None:
                targets[key] = target_for(
                    item.hostname, item.port, address=item.address, protocol=item.protocol, mode=key[2]
                )
    return targets


def check_discovery(
    discovery: DomainDiscovery,
    results: Mapping[ProbeKey, ProbeResult],
    opts: CheckOptions,
    *,
    probed: Collection[tuple[str, int]] = (),
) -> list[Finding]:
    """Every finding about one domain: its lookups, advertised endpoints, TLSA, MTA-STS and HTTPS sites.
    `probed` (name, port) pairs were already judged by the host's own probe: their cert.*/tls.* findings
    are not repeated, only what the advertising source adds."""
    findings = list(discovery.findings)
    seen: set[ProbeKey] = set()
    already = {(name.lower(), port) for name, port in probed}
    for item in discovery.advertised:
        result = results.get(probe_key(item))
        if result is None:
            continue
        if probe_key(item) not in seen and (item.hostname, item.port) not in already:
            seen.add(probe_key(item))
            findings += [
                f for f in check_probe(result, opts, service=result.service) if f.check not in _SAID_HERE
            ]
        findings += _advertised(item, result)
    for tlsa in discovery.tlsa:
        findings += _tlsa(tlsa, _chain_at(results, tlsa.hostname, tlsa.port))
    findings += _mta_sts(discovery, results, opts)
    for document in discovery.web:
        fetched = document.fetched
        chain = [_load(der) for der in fetched.chain_der]
        if chain and all(c is not None for c in chain):
            where = Where(service=document.purpose, port=443)
            findings += [
                _https_wording(f, document.purpose, fetched.host)
                for f in check_chain([c for c in chain if c is not None], [fetched.host], opts, where)
            ]
    return list(dict.fromkeys(findings))


def _advertised(item: Advertised, result: ProbeResult) -> list[Finding]:
    findings: list[Finding] = []
    service = result.service
    chain, _ = served_chain(result)
    if result.tls_mode is not None and result.tls_mode is not probe_key(item)[2] and item.mode is not None:
        told = "implicit TLS" if item.mode is Mode.IMPLICIT else "STARTTLS"
        check = "dns.srv-mismatch" if item.kind == "srv" else "config.mode-mismatch"
        findings.append(
            Finding(
                check=check,
                severity=Severity.CRITICAL,
                message=f"{item.source} tells clients to use {item.hostname}:{item.port} with {told} "
                f"({item.wording}), but {mode_phrase(result)}: clients following it fail to connect",
                fix=_mode_fix(item),
                service=service,
                port=item.port,
                hostname=item.hostname,
            )
        )
    if item.mode is None:
        findings.append(
            Finding(
                check="config.plaintext-auth",
                severity=Severity.WARNING,
                message=f"{item.source} tells clients to use {item.hostname}:{item.port} without TLS ({item.wording}): "
                "passwords cross the network in clear",
                fix="advertise SSL (implicit TLS) or STARTTLS for every server in the document",
                service=service,
                port=item.port,
                hostname=item.hostname,
            )
        )
    if chain:
        leaf = chain[0]
        if not covers(san_dns_names(leaf), san_ip_addresses(leaf), item.hostname):
            check = {"mx": "dns.mx-not-covered", "srv": "dns.srv-mismatch"}.get(
                item.kind, "cert.name-mismatch"
            )
            findings.append(
                Finding(
                    check=check,
                    severity=Severity.CRITICAL,
                    message=f"{item.hostname} (from {item.source}) is not covered by the certificate served on "
                    f"port {item.port}, {describe(leaf)}, which names: "
                    f"{', '.join([*san_dns_names(leaf), *san_ip_addresses(leaf)]) or 'no names'}",
                    fix=f"add {item.hostname} to the certificate (`{shell_command('certbot', '--expand', '-d', item.hostname)}`), or "
                    f"change {item.source} to a name the certificate covers",
                    service=service,
                    port=item.port,
                    hostname=item.hostname,
                )
            )
    return findings


def _mode_fix(item: Advertised) -> str:
    role = STANDARD_PORTS.get(item.port)
    if item.kind == "srv":
        return (
            f"point {item.source} at the port that speaks {'implicit TLS' if item.mode is Mode.IMPLICIT else 'STARTTLS'}"
            f" (RFC 6186: _submissions 465, _submission 587, _imaps 993, _imap 143, _pop3s 995, _pop3 110)"
        )
    right = "SSL" if role and role.mode is Mode.IMPLICIT else "STARTTLS"
    if item.kind == "autodiscover":
        right = "<Encryption>SSL</Encryption>" if right == "SSL" else "<Encryption>TLS</Encryption>"
        return f"in the autodiscover answer, give port {item.port} {right}"
    return f"in the autoconfig document, give port {item.port} <socketType>{right}</socketType>"


def _tlsa(tlsa: TlsaSet, chain: list[x509.Certificate] | None) -> list[Finding]:
    if not chain:
        return []  # nothing served: tls.* findings already say why
    records = [r for r in tlsa.records if usable(r)]
    if any(tlsa_matches(r, chain) for r in records):
        return []
    owner = tlsa_owner(tlsa.hostname, tlsa.port)
    listed = "; ".join(f"{r.text()[:24]}… ({USAGE_NAMES.get(r.usage, '?')})" for r in tlsa.records)
    unusable = "" if records else " (none of them is a usage 2/3 record an SMTP client uses)"
    if tlsa.authenticated:
        severity, impact = (
            Severity.CRITICAL,
            "DANE-validating senders (Postfix, Exim, Gmail) defer mail to it",
        )
    else:
        severity = Severity.WARNING
        impact = (
            "advisory: the answer was not DNSSEC-validated (no AD flag from the resolver), so DANE senders ignore "
            "these records today — they break delivery the moment the zone is signed"
        )
    return [
        Finding(
            check="dns.tlsa-mismatch",
            severity=severity,
            message=f"{owner} TLSA matches neither the served key nor its chain ({describe(chain[0])}){unusable}: "
            f"{listed}; {impact}",
            fix=f"publish `{next_tlsa_record(tlsa.hostname, tlsa.port, spki_der(chain[0]))}` next to the old "
            "record, wait two TTLs, then remove the old one; keep the key on renewal (certbot --reuse-key)",
            service=STANDARD_PORTS[tlsa.port].service if tlsa.port in STANDARD_PORTS else None,
            port=tlsa.port,
            hostname=tlsa.hostname,
        )
    ]


def _mta_sts(
    discovery: DomainDiscovery, results: Mapping[ProbeKey, ProbeResult], opts: CheckOptions
) -> list[Finding]:
    policy = discovery.sts_policy
    if policy is None or policy.mode not in ("enforce", "testing"):
        return []
    severity = Severity.CRITICAL if policy.mode == "enforce" else Severity.WARNING
    impact = (
        "enforce mode: Gmail, Microsoft and other MTA-STS senders will not deliver"
        if policy.mode == "enforce"
        else "testing mode: senders deliver anyway but send TLS-RPT failure reports"
    )
    findings: list[Finding] = []
    for mx in discovery.mx_hosts:
        if not mx_allowed(policy, mx):
            findings.append(
                Finding(
                    check="dns.mta-sts-mismatch",
                    severity=severity,
                    message=f"MX host {mx} of {discovery.domain} matches no mx: line of its MTA-STS policy "
                    f"({', '.join(policy.mx) or 'none'}); {impact}",
                    fix=f"add `mx: {mx}` to the policy and change the id in _mta-sts.{discovery.domain} TXT",
                    service="smtp",
                    port=25,
                    hostname=mx,
                )
            )
            continue
        chain = _chain_at(results, mx, 25)
        if not chain:
            continue
        broken = [
            f
            for f in check_chain(chain, [mx], opts, Where(service="smtp", port=25))
            if f.check in _STS_BREAKERS
        ]
        if broken:
            findings.append(
                Finding(
                    check="dns.mta-sts-mismatch",
                    severity=severity,
                    message=f"MX host {mx} is in {discovery.domain}'s MTA-STS policy, but its port-25 certificate "
                    f"fails the policy's PKIX check ({broken[0].check}: {broken[0].message}); {impact}",
                    fix=f"serve a publicly trusted, current certificate naming {mx} on port 25",
                    service="smtp",
                    port=25,
                    hostname=mx,
                )
            )
    return findings


def _https_wording(finding: Finding, purpose: str, host: str) -> Finding:
    who = {
        "autodiscover": "Outlook shows a certificate warning at startup",
        "autoconfig": "Thunderbird ignores the document and guesses settings",
        "mta-sts": "senders cannot fetch the policy, so it protects nothing",
    }.get(purpose, "clients warn")
    from dataclasses import replace

    return replace(finding, hostname=host, message=f"https://{host} ({purpose}): {finding.message}; {who}")


def _chain_at(results: Mapping[ProbeKey, ProbeResult], host: str, port: int) -> list[x509.Certificate] | None:
    for (name, number, _), result in results.items():
        if name == host and number == port and result.tls_mode is not None:
            chain, bad = served_chain(result)
            return chain if chain and not bad else None
    return None


def _load(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None
