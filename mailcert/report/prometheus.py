"""`verify --prometheus FILE`: the node_exporter textfile collector format, written atomically.

Metrics (gauges; times in Unix seconds, following Prometheus naming conventions):
- mailcert_host_up{host}: 1 when the host could be checked, 0 when not (SSH, auth, sudo ...).
- mailcert_host_status{host}: 0 ok, 1 warning, 2 critical, 3 unknown (SPEC's exit codes).
- mailcert_check_status{host,check}: the same scale per catalogue check (0 = the check found nothing).
- mailcert_certificate_expiry_timestamp_seconds{host,service,port}: notAfter of the served certificate.
- mailcert_configured_certificate_expiry_timestamp_seconds{host,service,port}: notAfter of the one on disk.
- mailcert_served_matches_configured{host,service,port}: 1 when the port serves the configured certificate.
- mailcert_last_renewal_timestamp_seconds{host,lineage}: when certbot last wrote the lineage's certificate.
- mailcert_last_run_timestamp_seconds / mailcert_evaluated_timestamp_seconds: when verify ran / judged.

Times are whole seconds, as in the JSON report: everything here follows from the JSON report, so that
`report merge` writes from the shards' JSON the very file the unsharded run would have written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mailcert.catalogue import CHECKS
from mailcert.errors import UsageError
from mailcert.model import HostReport, Report, Status, severity_status, worst_status

_ENDPOINT = ["host", "service", "port"]


def _unix(moment: datetime) -> int:
    """Unix seconds, the fraction dropped as the JSON report's times drop it (naive means UTC there too)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.replace(microsecond=0).timestamp())


def _check_statuses(host: HostReport) -> dict[str, Status]:
    """Every catalogue check's status on a checked host; only host.unreachable for one that was not."""
    if host.error is not None:
        return {"host.unreachable": Status.UNKNOWN}
    statuses = dict.fromkeys(CHECKS, Status.OK)
    for finding in host.findings:
        statuses[finding.check] = worst_status(
            [statuses.get(finding.check, Status.OK), severity_status(finding.severity)]
        )
    return statuses


class _ReportCollector(Collector):
    def __init__(self, report: Report) -> None:
        self.report = report

    def collect(self) -> Iterator[Metric]:
        report = self.report
        up = GaugeMetricFamily(
            "mailcert_host_up", "1 when mailcert could check the host, 0 when not", labels=["host"]
        )
        status = GaugeMetricFamily(
            "mailcert_host_status", "host status: 0 ok, 1 warning, 2 critical, 3 unknown", labels=["host"]
        )
        check = GaugeMetricFamily(
            "mailcert_check_status",
            "status of one check on the host: 0 ok, 1 warning, 2 critical, 3 unknown",
            labels=["host", "check"],
        )
        served = GaugeMetricFamily(
            "mailcert_certificate_expiry_timestamp_seconds",
            "notAfter of the certificate the port serves, in Unix seconds",
            labels=_ENDPOINT,
        )
        configured = GaugeMetricFamily(
            "mailcert_configured_certificate_expiry_timestamp_seconds",
            "notAfter of the certificate the service is configured with on disk, in Unix seconds",
            labels=_ENDPOINT,
        )
        matches = GaugeMetricFamily(
            "mailcert_served_matches_configured",
            "1 when the port serves the certificate configured on disk, 0 when it serves another",
            labels=_ENDPOINT,
        )
        renewed = GaugeMetricFamily(
            "mailcert_last_renewal_timestamp_seconds",
            "when certbot last wrote the lineage's certificate (its last successful renewal), in Unix seconds",
            labels=["host", "lineage"],
        )
        for host in report.hosts:
            up.add_metric([host.name], 0 if host.error is not None else 1)
            status.add_metric([host.name], host.status.exit_code)
            for check_id, check_status in sorted(_check_statuses(host).items()):
                check.add_metric([host.name, check_id], check_status.exit_code)
            for endpoint in host.endpoints:
                labels = [host.name, endpoint.service, str(endpoint.port)]
                if endpoint.served is not None:
                    served.add_metric(labels, _unix(endpoint.served.not_after))
                if endpoint.configured.not_after is not None:
                    configured.add_metric(labels, _unix(endpoint.configured.not_after))
                if endpoint.served is not None and endpoint.configured.sha256 is not None:
                    same = endpoint.served.sha256.lower() == endpoint.configured.sha256.lower()
                    matches.add_metric(labels, 1 if same else 0)
            for renewal in host.renewals:
                renewed.add_metric([host.name, renewal.lineage], _unix(renewal.renewed_at))
        last_run = GaugeMetricFamily(
            "mailcert_last_run_timestamp_seconds", "when mailcert verify wrote this file, in Unix seconds"
        )
        last_run.add_metric([], _unix(report.generated_at))
        evaluated = GaugeMetricFamily(
            "mailcert_evaluated_timestamp_seconds",
            "the instant validity and expiry were judged at (--at, else the run time), in Unix seconds",
        )
        evaluated.add_metric([], _unix(report.evaluated_at))
        yield from (up, status, check, served, configured, matches, renewed, last_run, evaluated)


def _registry(report: Report) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ReportCollector(report))
    return registry


def render_prometheus(report: Report) -> str:
    """The textfile content (Prometheus text exposition format 0.0.4); everything in it comes from the report,
    so `report merge` writes from the JSON reports what the runs themselves would have written."""
    return generate_latest(_registry(report)).decode("utf-8")


def write_prometheus(path: str, report: Report) -> None:
    """Write the textfile atomically (a temporary file beside it, then rename), as node_exporter needs."""
    if not path.endswith(".prom"):
        raise UsageError(
            f"--prometheus {path}: node_exporter's textfile collector reads only files ending in .prom",
            todo="name the file e.g. /var/lib/prometheus/node-exporter/mailcert.prom",
        )
    try:
        write_to_textfile(str(Path(path)), _registry(report))
    except OSError as exc:
        raise UsageError(
            f"cannot write --prometheus {path}: {exc.strerror or exc}", todo="give a writable folder"
        ) from None
