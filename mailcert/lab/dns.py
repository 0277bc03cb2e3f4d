"""The lab's DNS: dnsmasq serving the lab mail domains (A, MX, RFC 6186 SRV, TXT, TLSA) on one address.

A `LabMailDomain` says what a healthy domain publishes; DNS faults change the published records. dnsmasq
takes everything on its command line (`--mx-host`, `--srv-host`, `--txt-record`, `--dns-rr` for TLSA), so
a changed zone is a restart. It answers only for the lab's names: no upstream, nothing forwarded — except
`timeout.<domain>`, forwarded to a silent loopback port so lookups under it time out like a dead server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailcert.lab import LabError
from mailcert.lab.layout import LAB_DOMAIN
from mailcert.lab.procs import RecordedProcess, start_when_ready, stop_started

DNS_FAULTS = ("tlsa-old-key", "srv-465-starttls")
SILENT_UPSTREAM = "127.0.0.1#9"  # discard port: nothing answers, so forwarded lookups time out


@dataclass(frozen=True)
class LabMailDomain:
    """A lab mail domain: its mail server (names → address), its web server, the served key, its faults."""

    domain: str  # mx1.mailcert.test
    mail_address: str  # where mail., smtp., imap., pop. point
    web_address: str  # where autoconfig., autodiscover., mta-sts. and the domain itself point
    served_spki: bytes  # SubjectPublicKeyInfo (DER) of the key the mail server serves
    faults: frozenset[str] = field(default_factory=frozenset)

    def name(self, prefix: str) -> str:
        return f"{prefix}.{self.domain}"

    @property
    def mx_host(self) -> str:
        return self.name("mail")


@dataclass(frozen=True)
class ZoneRecords:
    """What dnsmasq serves, as (owner, value) pairs in dnsmasq's own option syntax."""

    hosts: tuple[tuple[str, str], ...]
    mx: tuple[tuple[str, str, int], ...]
    srv: tuple[tuple[str, str, int, int, int], ...]
    txt: tuple[tuple[str, str], ...]
    tlsa: tuple[tuple[str, int, int, int, bytes], ...]


def tlsa_digest(spki: bytes) -> bytes:
    return hashlib.sha256(spki).digest()


def zone_for(domain: LabMailDomain, *, old_spki: bytes = b"") -> ZoneRecords:
    """The records a domain publishes; `tlsa-old-key` pins `old_spki` (a key no longer served) instead."""
    d = domain
    hosts = [(d.name(p), d.mail_address) for p in ("mail", "smtp", "imap", "pop")]
    hosts += [(d.name(p), d.web_address) for p in ("autoconfig", "autodiscover", "mta-sts")]
    hosts.append((d.domain, d.web_address))
    submission = 465 if "srv-465-starttls" in d.faults else 587
    srv = [
        (f"_submissions._tcp.{d.domain}", d.name("smtp"), 465, 0, 1),
        (f"_submission._tcp.{d.domain}", d.name("smtp"), submission, 0, 1),
        (f"_imaps._tcp.{d.domain}", d.name("imap"), 993, 0, 1),
        (f"_imap._tcp.{d.domain}", d.name("imap"), 143, 0, 1),
        (f"_pop3s._tcp.{d.domain}", d.name("pop"), 995, 0, 1),
        (f"_pop3._tcp.{d.domain}", d.name("pop"), 110, 0, 1),
    ]
    pinned = old_spki if "tlsa-old-key" in d.faults else d.served_spki
    if "tlsa-old-key" in d.faults and not old_spki:
        raise LabError("the tlsa-old-key fault needs the old key's SubjectPublicKeyInfo")
    tlsa = [(f"_25._tcp.{d.mx_host}", 3, 1, 1, tlsa_digest(pinned))]
    tlsa.append((f"_993._tcp.{d.name('imap')}", 3, 1, 1, tlsa_digest(d.served_spki)))
    return ZoneRecords(
        hosts=tuple(hosts),
        mx=((d.domain, d.mx_host, 10),),
        srv=tuple(srv),
        txt=((f"_mta-sts.{d.domain}", "v=STSv1; id=2026112301"),),
        tlsa=tuple(tlsa),
    )


def dnsmasq_args(
    zones: Sequence[ZoneRecords], domains: Sequence[str], listen: str, port: int, workdir: Path
) -> list[str]:
    """dnsmasq's command line: foreground, no system files, no upstream, our records only."""
    args = [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--bind-interfaces", f"--listen-address={listen}", f"--port={port}", "--user=root", "--group=root",
        f"--pid-file={workdir / 'dnsmasq.pid'}", f"--log-facility={workdir / 'dnsmasq.log'}", "--log-queries",
        f"--local=/{LAB_DOMAIN}/",
    ]  # fmt: skip
    for domain in domains:
        args.append(f"--server=/timeout.{domain}/{SILENT_UPSTREAM}")
    for zone in zones:
        args += [f"--host-record={name},{address}" for name, address in zone.hosts]
        args += [f"--mx-host={owner},{target},{pref}" for owner, target, pref in zone.mx]
        args += [f"--srv-host={o},{t},{p},{prio},{w}" for o, t, p, prio, w in zone.srv]
        args += [f"--txt-record={owner},{text}" for owner, text in zone.txt]
        args += [
            f"--dns-rr={owner},52,{bytes([u, s, m]).hex()}{data.hex()}" for owner, u, s, m, data in zone.tlsa
        ]
    return args


@dataclass
class LabDns:
    """A running dnsmasq for the lab domains; `restart` with new zones applies planted faults."""

    listen: str
    port: int
    workdir: Path
    process: RecordedProcess | None = None

    @property
    def resolver(self) -> str:
        """The value for --resolver / mailcert_resolver."""
        return f"{self.listen}:{self.port}"

    def start(self, zones: Sequence[ZoneRecords], domains: Sequence[str]) -> None:
        self.stop()
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = dnsmasq_args(zones, domains, self.listen, self.port, self.workdir)
        self.process, self._popen = start_when_ready(
            argv, lambda: _answers_dns(self.listen, self.port), f"dnsmasq on {self.listen}:{self.port}"
        )

    def stop(self) -> None:
        stop_started(self.process, getattr(self, "_popen", None))
        self.process = None


def _answers_dns(listen: str, port: int) -> bool:
    """dnsmasq answers a query for the lab domain."""
    import dns.exception
    import dns.message
    import dns.query

    try:
        dns.query.udp(dns.message.make_query(LAB_DOMAIN, "SOA"), listen, port=port, timeout=0.1)
    except (dns.exception.DNSException, OSError):
        return False
    return True
