"""What a client sees from outside, as host reports (`mailcert probe`): no SSH, the probe and its checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mailcert.checks.certs import CheckOptions
from mailcert.checks.merge import merge_endpoint_findings
from mailcert.checks.served import check_consistency, check_probe, served_cert
from mailcert.model import ConfiguredCert, Endpoint, Finding, HostReport, Mode
from mailcert.probe import Observed, ProbeResult


def probe_reports(results: Sequence[ProbeResult], checks: CheckOptions) -> list[HostReport]:
    """One HostReport per probed hostname, in the order first probed."""
    by_host: dict[str, list[ProbeResult]] = {}
    for result in results:
        by_host.setdefault(result.hostname, []).append(result)
    return [host_report(name, host_results, checks) for name, host_results in by_host.items()]


def host_report(name: str, results: Sequence[ProbeResult], checks: CheckOptions) -> HostReport:
    """Endpoints that answered, and every finding; a host where no port answers is a fault, not "nothing offered"."""
    if all(r.observed is Observed.UNREACHABLE for r in results):
        if all((r.error or "").startswith("cannot resolve") for r in results):
            return HostReport(name=name, error=results[0].error)
        results = [replace(r, required=True) for r in results]
    findings: list[Finding] = []
    endpoints: list[Endpoint] = []
    for result in results:
        findings += check_probe(result, checks)
        if result.observed is Observed.UNREACHABLE and not result.required:
            continue
        endpoints.append(
            Endpoint(
                service=result.service or result.protocol or "unknown",
                port=result.port,
                mode=result.tls_mode or result.expected_mode or Mode.STARTTLS,
                hostnames=(result.hostname,),
                configured=ConfiguredCert(cert_file=None, key_file=None),
                served=served_cert(result),
            )
        )
    findings += check_consistency(results)
    return HostReport(
        name=name, endpoints=tuple(endpoints), findings=tuple(merge_endpoint_findings(findings))
    )
