"""Lint one host from its files: parse every service, check every certificate source each port would use.

The same function serves `lint ROOT` (LocalRoot) and `audit` (files gathered over SSH): it sees only the
HostFiles protocol, so both agree on the same files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from mailcert.audit.tree import ConfigOnlyTree, built_tables_on_host, is_config_only, prefer_renewal_findings
from mailcert.catalogue import Where
from mailcert.checks.certs import CheckOptions
from mailcert.checks.files import FileCache, SourceResult, check_cert_source
from mailcert.checks.merge import merge_endpoint_findings
from mailcert.checks.renewal import renewal_findings
from mailcert.errors import MailcertError
from mailcert.facts import HostFiles
from mailcert.model import Endpoint, Finding, HostReport, Mode
from mailcert.pki.names import normalise
from mailcert.ports import CLIENT_KINDS, STANDARD_PORTS
from mailcert.services.model import CertSource, Listener, ServiceConfig
from mailcert.services.registry import ROLES, detect_roles, parser_for

# Listener names → the client-facing kind SPEC's `mailcert_hostnames` mapping uses.
CLIENT_KIND = CLIENT_KINDS
PORT_KIND = {port: CLIENT_KINDS[role.service] for port, role in STANDARD_PORTS.items()}

Hostnames = Sequence[str] | Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class LintOptions:
    checks: CheckOptions
    hostnames: Hostnames | None = None  # None: names found in the configuration
    roles: Sequence[str] | None = None  # None: detected from the files present
    # A tree (lint ROOT, review), not a host: when it holds none of the certificate and key files its
    # configuration names, it is a config-only tree (audit/tree.py). False: absent files are missing.
    tree: bool = False
    # Installed daemon versions by service (GatheredHost.versions) for the parsers; empty for a tree.
    versions: Mapping[str, str] = field(default_factory=dict)


@dataclass
class HostModel:
    """What lint learned about a host, for later stages (probe compares served with configured)."""

    services: list[ServiceConfig] = field(default_factory=list)
    sources: dict[tuple[str, int], list[SourceResult]] = field(
        default_factory=dict
    )  # (service, port) → sources


def lint_host(files: HostFiles, *, name: str, options: LintOptions) -> HostReport:
    """The host's report: every finding that can be decided from its files."""
    return lint_host_model(files, name=name, options=options)[0]


def lint_host_model(files: HostFiles, *, name: str, options: LintOptions) -> tuple[HostReport, HostModel]:
    roles = list(options.roles) if options.roles is not None else detect_roles(files)
    if not roles:
        markers = ", ".join(m for role in ROLES.values() for m in role.markers)
        raise MailcertError(
            "no Postfix, Dovecot or Exim configuration found",
            where=name,
            todo=f"looked for {markers}; give the folder that stands for the host's / (or --role)",
        )
    model = HostModel(
        services=[parser_for(role)(files, version=options.versions.get(role)) for role in roles]
    )
    config_names = _unique(n for service in model.services for n in service.config_names)
    findings: list[Finding] = [f for service in model.services for f in service.findings]
    endpoints: list[Endpoint] = []
    cache = FileCache(files)
    config_only = (
        ConfigOnlyTree(cache, names_given=options.hostnames is not None)
        if options.tree and is_config_only(cache, model.services)
        else None
    )
    found: list[Finding] = []
    checked = _CheckedSources(cache, options.checks)
    for service in model.services:
        for listener in service.listeners:
            names = hostnames_for(listener, options.hostnames, config_names)
            endpoints += _check_listener(
                listener, names, checked, options.checks, model, found, service, config_only
            )
    findings += found
    findings += _renewal_findings(files, model, options.checks)
    if config_only is not None:
        findings = built_tables_on_host(prefer_renewal_findings(findings))
    merged = merge_endpoint_findings(_dedupe(findings))
    return HostReport(name=name, endpoints=tuple(endpoints), findings=tuple(merged)), model


def hostnames_for(listener: Listener, hostnames: Hostnames | None, config_names: Sequence[str]) -> list[str]:
    """Names clients use for this listener: the inventory's list (or its entry for this kind of service),
    else the names the configuration itself advertises."""
    if hostnames is None:
        return list(config_names)
    if isinstance(hostnames, Mapping):
        kind = CLIENT_KIND.get(listener.name) or PORT_KIND.get(listener.port, listener.name)
        return list(hostnames.get(kind, ()))
    return list(hostnames)


def _check_listener(
    listener: Listener,
    names: Sequence[str],
    checked: _CheckedSources,
    opts: CheckOptions,
    model: HostModel,
    found: list[Finding],
    service: ServiceConfig,
    config_only: ConfigOnlyTree | None = None,
) -> list[Endpoint]:
    if not listener.tls_enabled:
        return []
    if not listener.certificates and not listener.sni:
        if not any(_explains_missing_cert(f, listener) for f in service.findings):
            found.append(
                Where(
                    listener.service,
                    listener.port,
                    listener.location.file if listener.location else None,
                    listener.location.line if listener.location else None,
                ).finding(
                    "cert.missing",
                    f"TLS is on for {listener.service} {listener.name} (port {listener.port}) but no certificate "
                    "is configured",
                    "configure the certificate chain and key for this service",
                ),
            )
        return []
    by_source = _names_by_source(listener, names)
    if config_only is not None:
        sni_names = [source_names for _, source_names in by_source[len(listener.certificates) :]]
        found += config_only.unreached_sni(listener, sni_names, names)
    endpoints: list[Endpoint] = []
    results = model.sources.setdefault((listener.service, listener.port), [])
    for position, (source, source_names) in enumerate(by_source):
        where = Where(service=listener.service)
        result = (
            config_only.check_source(source, source_names, opts, where)
            if config_only is not None
            else checked.check(source, source_names, where)
        )
        results.append(result)
        for finding in result.findings:
            found.append(replace(finding, port=listener.port))
        endpoints.append(
            Endpoint(
                service=listener.service,
                port=listener.port,
                mode=Mode(listener.mode),
                hostnames=tuple(source_names),
                configured=result.configured,
                by_sni=position >= len(listener.certificates),
            )
        )
    return endpoints


class _CheckedSources:
    """check_cert_source once per (source, names, where) of a host: listeners that share a certificate
    (Dovecot's imap, imaps, pop3 and pop3s with the same SNI blocks) get the same result, judged once."""

    def __init__(self, cache: FileCache, opts: CheckOptions) -> None:
        self.cache = cache
        self.opts = opts
        self._results: dict[tuple[CertSource, tuple[str, ...], Where], SourceResult] = {}

    def check(self, source: CertSource, names: Sequence[str], where: Where) -> SourceResult:
        key = (source, tuple(names), where)
        if key not in self._results:
            self._results[key] = check_cert_source(source, self.cache, names, self.opts, where)
        return self._results[key]


def _names_by_source(listener: Listener, names: Sequence[str]) -> list[tuple[CertSource, list[str]]]:
    """Pair each certificate source with the client names it would answer (SNI first, default otherwise)."""
    pairs: list[tuple[CertSource, list[str]]] = [(source, []) for source in listener.certificates]
    pairs += [(sni.source, []) for sni in listener.sni]
    index = _SniIndex(listener, first=len(listener.certificates))
    for hostname in names:
        target = index.lookup(hostname)
        if target is None:
            for _, default_names in pairs[: len(listener.certificates)]:
                default_names.append(hostname)
        else:
            pairs[target][1].append(hostname)
    return pairs


class _SniIndex:
    """SNI patterns by the name they match: exact names, `*.suffix` wildcards (one label) and Postfix
    `.suffix` entries (any subdomain). The first entry in configuration order wins, as in Dovecot 2.3."""

    def __init__(self, listener: Listener, first: int) -> None:
        self.exact: dict[str, int] = {}
        self.wildcard: dict[str, int] = {}
        self.subdomain: dict[str, int] = {}
        for offset, sni in enumerate(listener.sni):
            for pattern in sni.names:
                name = normalise(pattern)
                if name.startswith("*."):
                    self.wildcard.setdefault(name[2:], first + offset)
                elif name.startswith("."):
                    self.subdomain.setdefault(name[1:], first + offset)
                elif name:
                    self.exact.setdefault(name, first + offset)

    def lookup(self, hostname: str) -> int | None:
        name = normalise(hostname)
        labels = name.split(".")
        candidates = [self.exact.get(name)]
        if len(labels) > 1:
            candidates.append(self.wildcard.get(".".join(labels[1:])))
        candidates += [self.subdomain.get(".".join(labels[i:])) for i in range(1, len(labels))]
        found = [c for c in candidates if c is not None]
        return min(found) if found else None


def _renewal_findings(files: HostFiles, model: HostModel, opts: CheckOptions) -> list[Finding]:
    return renewal_findings(files, model.services, opts.now)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _dedupe(findings: Sequence[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    out: list[Finding] = []
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            out.append(finding)
    return out


def _explains_missing_cert(finding: Finding, listener: Listener) -> bool:
    """A parser finding that already says why this listener has no certificate (no need for cert.missing)."""
    if finding.service != listener.service:
        return False
    if finding.port == listener.port:
        return True
    return finding.port is None and finding.check in {
        "cert.missing",
        "cert.self-signed",
        "config.tls-disabled",
    }
