"""The report's view of what DNS advertises: every MX, SRV, autoconfig and autodiscover endpoint, with the
sources that name it (`advertised_by`), merged into the host's own endpoints where name and port agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from mailcert.checks.dns import ProbeKey, probe_key
from mailcert.checks.served import served_cert
from mailcert.dns.discover import DomainDiscovery
from mailcert.model import ConfiguredCert, Endpoint
from mailcert.probe.result import ProbeResult

_NOT_CONFIGURED = ConfiguredCert(cert_file=None, key_file=None)


def with_dns_endpoints(
    endpoints: Sequence[Endpoint],
    discoveries: Sequence[DomainDiscovery],
    results: Mapping[ProbeKey, ProbeResult],
) -> list[Endpoint]:
    """The host's endpoints, each with the DNS sources that advertise it, then one endpoint per advertised
    (name, port) the host's configuration does not list (configured: all null; served: what the probe got)."""
    sources: dict[tuple[str, int], list[str]] = {}
    first: dict[tuple[str, int], ProbeKey] = {}
    for discovery in discoveries:
        for item in discovery.advertised:
            key = (item.hostname.lower(), item.port)
            sources.setdefault(key, [])
            if item.source not in sources[key]:
                sources[key].append(item.source)
            first.setdefault(key, probe_key(item))
    merged: list[Endpoint] = []
    claimed: set[tuple[str, int]] = set()
    for endpoint in endpoints:
        told = [
            source for name in endpoint.hostnames for source in sources.get((name.lower(), endpoint.port), [])
        ]
        claimed |= {(name.lower(), endpoint.port) for name in endpoint.hostnames}
        merged.append(replace(endpoint, advertised_by=tuple(dict.fromkeys(told))) if told else endpoint)
    for key, told in sources.items():
        if key in claimed:
            continue
        hostname, port, mode = first[key]
        result = results.get(first[key])
        merged.append(
            Endpoint(
                service=(result.service if result is not None and result.service else None)
                or _protocol_of(discoveries, key),
                port=port,
                mode=(result.tls_mode if result is not None and result.tls_mode is not None else mode),
                hostnames=(hostname,),
                configured=_NOT_CONFIGURED,
                served=served_cert(result) if result is not None else None,
                advertised_by=tuple(told),
            )
        )
    return merged


def _protocol_of(discoveries: Sequence[DomainDiscovery], key: tuple[str, int]) -> str:
    for discovery in discoveries:
        for item in discovery.advertised:
            if (item.hostname.lower(), item.port) == key:
                return item.protocol
    return "smtp"
