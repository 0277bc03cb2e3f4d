"""What each client family gets on a probed endpoint (`mailcert probe --client`): the worst of its symptoms.yml
verdicts over the checks that fired there, and one line for people ("Outlook may pass through AIA; Thunderbird,
Android fail"). Pure: host reports in, verdicts out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mailcert.errors import UsageError
from mailcert.model import HostReport
from mailcert.symptoms import FAMILIES, worst_verdict

SHORT_NAMES = {
    "outlook": "Outlook",
    "apple": "Apple Mail",
    "thunderbird": "Thunderbird",
    "android": "Android",
    "openssl": "OpenSSL",
    "gnutls": "GnuTLS",
}
_SAYING = (  # verdict → how a group of families is described, in the order the groups are told
    ("aia", "may pass through AIA"),
    ("fails", "fail"),
    ("maybe", "may fail (depends on version or settings)"),
    ("later", "connect until the served certificate lapses"),
    ("depends", "depend on the setting that wins"),
    ("passes", "connect"),
)


def parse_client_option(value: str) -> tuple[str, ...]:
    """`--client thunderbird,outlook` or `all` → the family keys, in table order; UsageError for a stranger."""
    words = [w.strip().lower() for w in value.split(",") if w.strip()]
    if not words or "all" in words:
        return FAMILIES
    unknown = [w for w in words if w not in FAMILIES]
    if unknown:
        raise UsageError(
            f"--client {value!r}: unknown client {', '.join(unknown)}",
            todo=f"choose from {', '.join(FAMILIES)} or all (comma-separated for several)",
        )
    return tuple(f for f in FAMILIES if f in words)


def client_verdicts(check_ids: Iterable[str], families: Iterable[str]) -> dict[str, str]:
    """Family → its worst verdict over an endpoint's checks ("passes" when nothing there bites it)."""
    checks = list(check_ids)
    return {family: worst_verdict(checks, family) for family in families}


def client_summary(verdicts: Mapping[str, str]) -> str:
    """One line for people: "Outlook may pass through AIA; Thunderbird, Android fail"."""
    parts = []
    for verdict, saying in _SAYING:
        names = [SHORT_NAMES[f] for f, v in verdicts.items() if v == verdict]
        if names:
            parts.append(f"{', '.join(names)} {saying}")
    return "; ".join(parts)


@dataclass(frozen=True)
class EndpointClients:
    """What each chosen client family gets on one (host, port, name), from the findings there."""

    host: str
    port: int
    hostname: str
    checks: tuple[str, ...]
    verdicts: dict[str, str]

    @property
    def summary(self) -> str:
        return client_summary(self.verdicts)

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "hostname": self.hostname,
            "checks": list(self.checks),
            "verdicts": dict(self.verdicts),
            "summary": self.summary,
        }


def endpoint_clients(hosts: Iterable[HostReport], families: Sequence[str]) -> list[EndpointClients]:
    """Per probed (port, name) of each host, each family's verdict from the findings on that port and name."""
    views = []
    for host in hosts:
        for endpoint in host.endpoints:
            for name in endpoint.hostnames or (host.name,):
                checks = tuple(
                    dict.fromkeys(
                        f.check
                        for f in host.findings
                        if f.port == endpoint.port and f.hostname in (None, name)
                    )
                )
                views.append(
                    EndpointClients(host.name, endpoint.port, name, checks, client_verdicts(checks, families))
                )
    return views
