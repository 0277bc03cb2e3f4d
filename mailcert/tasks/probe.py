"""`mailcert probe TARGET...`: what a mail client connecting from here gets, on every standard port or the one given."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mailcert.errors import UsageError
from mailcert.ports import DEFAULT_EHLO, DEFAULT_PER_HOST
from mailcert.quoting import shown
from mailcert.tasks.declare import task
from mailcert.tasks.options import COMMON_HELP, check_options, emit, wants_color
from mailcert.tasks.state import run_state

if TYPE_CHECKING:
    from invoke.context import Context

    from mailcert.client_verdicts import EndpointClients
    from mailcert.model import Report


@task(
    iterable=("target", "ca_bundle"),
    help={
        "target": "host or host:port ([v6]:port); a bare host means ports 25, 587, 465, 143, 993, 110, 995. "
        "`mailcert probe a b:587` repeats this flag for you",
        "servername": "name for SNI and certificate checks; TARGET is then only where to connect",
        "address": "connect to this address; SNI and certificate checks still use the TARGET name",
        "protocol": "smtp, imap or pop3, for a non-standard port (default: recognised from the greeting)",
        "starttls": "the port is expected to speak STARTTLS (default for 25, 587, 143, 110)",
        "implicit": "the port is expected to speak implicit TLS (default for 465, 993, 995)",
        "ehlo": f"name to send in EHLO (default {DEFAULT_EHLO})",
        "timeout": "seconds to wait for each answer (default 10; connecting waits at most 5, a port at most twice this)",
        "per_host": f"at most this many connections to one host at a time (default {DEFAULT_PER_HOST})",
        "client": "also say what each client family gets per endpoint: thunderbird, outlook, apple, android, "
        "openssl, gnutls (comma-separated) or all; e.g. a leaf-only chain: Outlook may pass through AIA, "
        "Thunderbird and Android fail (text and json formats)",
        **{k.replace("-", "_"): v for k, v in COMMON_HELP.items()},
    },
)
def probe(
    c: Context,
    target: list[str] | None = None,
    servername: str | None = None,
    address: str | None = None,
    protocol: str | None = None,
    starttls: bool = False,
    implicit: bool = False,
    ehlo: str = DEFAULT_EHLO,
    timeout: str = "10",
    per_host: str = str(DEFAULT_PER_HOST),
    client: str | None = None,
    format: str = "text",
    output: str | None = None,
    at: str | None = None,
    ca_bundle: list[str] | None = None,
    warn_days: int = 21,
    crit_days: int = 7,
) -> None:
    """Connect as a mail client does and report what it sees: mode, TLS version, served chain, findings."""
    # Imported here, not above: `--help` reads only the declaration (mailcert.tasks.direct).
    from mailcert.audit.outside import probe_reports
    from mailcert.client_verdicts import endpoint_clients, parse_client_option
    from mailcert.model import Mode, Report
    from mailcert.probe import Timeouts, probe_all
    from mailcert.probe.targets import TargetOptions, expand_targets
    from mailcert.report import check_format, render

    if not target:
        raise UsageError(
            "no target to probe",
            todo="give one or more host or host:port, e.g. mailcert probe mx.example.com",
        )
    if starttls and implicit:
        raise UsageError("--starttls and --implicit contradict each other", todo="give one of them")
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\]", ehlo):
        raise UsageError(f"--ehlo {ehlo!r} is not a host name", todo="give a name like probe.example.com")
    mode = Mode.STARTTLS if starttls else Mode.IMPLICIT if implicit else None
    options = TargetOptions(servername=servername, address=address, protocol=protocol, mode=mode)
    endpoints = expand_targets(list(target), options)
    check_format(format)
    families = parse_client_option(client) if client is not None else ()
    if families and format not in ("text", "json"):
        raise UsageError(f"--client works with --format text or json, not {format}", todo="drop one of them")
    checks = check_options(at, ca_bundle or [], warn_days, crit_days)
    read = _positive(timeout, "--timeout")
    results = probe_all(
        endpoints,
        ehlo_name=ehlo,
        timeouts=Timeouts(connect=min(5.0, read), read=read, endpoint=2 * read),
        per_host=int(_positive(per_host, "--per-host")),
    )
    report = Report(
        generated_at=datetime.now(UTC), evaluated_at=checks.now, hosts=tuple(probe_reports(results, checks))
    )
    text = render(report, format, color=wants_color(output))
    if families:
        text = _with_clients(report, text, format, endpoint_clients(report.hosts, families))
    emit(text, output)
    run_state().record("probe", report)


def _positive(value: str | int | float, flag: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise UsageError(f"{flag} {value!r} is not a positive number", todo=f"write e.g. {flag} 10")
    return number


def _with_clients(report: Report, text: str, format: str, views: list[EndpointClients]) -> str:
    """The report plus what each chosen client family gets per endpoint (JSON: a top-level `clients` list)."""
    from mailcert.report.json import readable_json, report_to_dict

    if format == "json":
        document = report_to_dict(report)
        document["clients"] = [view.to_json() for view in views]  # type: ignore[misc]
        return readable_json(document) + "\n"
    lines = ["", "what each client gets (from the findings and mailcert/data/symptoms.yml):"]
    lines += [f"  {shown(v.host)}:{v.port} {shown(v.hostname)}: {v.summary}" for v in views]
    return text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
