"""The lab's DNS: dnsmasq serving the lab mail domains (A, MX, RFC 6186 SRV, TXT, TLSA) on one address.

`lab up` runs it (with nginx, mailcert.lab.web) on the lab bridge address, 10.213.0.1:53 and :443, and the
lab inventory points mailcert_resolver at it. Each host's domain (mx1.mailcert.test) publishes TLSA records
for the key in the host's lineage (what `postfix tls output-server-tlsa` derives from privkey.pem); the
zone is re-read from the hosts' keys whenever the lab plants or resets (`republish`). DNS and web faults
are planted with `publish(lab_dir, {host: faults})`.

A `LabMailDomain` says what a healthy domain publishes; DNS faults change the published records. dnsmasq
takes everything on its command line (`--mx-host`, `--srv-host`, `--txt-record`, `--dns-rr` for TLSA), so
a changed zone is a restart. It answers only for the lab's names: no upstream, nothing forwarded — except
`timeout.<domain>`, forwarded to a silent loopback port so lookups under it time out like a dead server.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailcert.lab import LabError
from mailcert.lab.layout import LAB_DOMAIN, LabHost, now_utc
from mailcert.lab.procs import RecordedProcess, terminate
from mailcert.lab.state import LabState

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
    # more names served by the mail server: a cPanel host's account domains and their mail. names, which
    # its clients use and its certificates cover (the CA's validation and fix's ACME pre-flight look them up)
    more_names: tuple[str, ...] = ()

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
    hosts += [(name, d.mail_address) for name in d.more_names]
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


# -- the lab's own DNS and web server, started by `lab up` and recorded in the lab state ----------------
LAB_DNS_PORT = 53
DNS_ROLE = "lab-dns"
WEB_ROLE = "lab-web"
DNS_DIR = "dns"
WEB_DIR = "web"
FAULTS_FILE = "faults.json"  # DNS and web faults planted per host: {"mx1": ["tlsa-old-key"]}


def lab_resolver() -> str:
    """mailcert_resolver for the lab: dnsmasq on the bridge address."""
    from mailcert.lab.network import GATEWAY

    return f"{GATEWAY}:{LAB_DNS_PORT}"


def host_spki(host: LabHost) -> bytes:
    """SubjectPublicKeyInfo of the key in the host's lineage (privkey.pem; cert.pem when the key is unreadable),
    the way `postfix tls output-server-tlsa` derives a TLSA record from the key file."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_private_key,
    )

    live = f"/etc/letsencrypt/live/{host.lineage}"
    try:
        key = load_pem_private_key(host.path(f"{live}/privkey.pem").read_bytes(), password=None)
        return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    except (OSError, ValueError, TypeError):
        cert = x509.load_pem_x509_certificate(host.path(f"{live}/cert.pem").read_bytes())
        return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def planted_dns_faults(lab_dir: Path) -> dict[str, list[str]]:
    path = lab_dir / DNS_DIR / FAULTS_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(h): [str(f) for f in names] for h, names in data.items()} if isinstance(data, dict) else {}


def lab_domains(state: LabState) -> list[LabMailDomain]:
    """Each lab host's mail domain as the lab DNS publishes it: the host's key and its planted DNS faults."""
    from mailcert.lab.kinds.cpanel import account_domains, mail_names
    from mailcert.lab.network import GATEWAY

    faults = planted_dns_faults(state.dir)
    domains = []
    for h in state.hosts.values():
        host = LabHost(h.name, h.kind, h.address, state.dir)
        more: tuple[str, ...] = ()
        if h.kind == "cpanel":
            more = (*(d for ds in account_domains(host).values() for d in ds), *mail_names(host))
        domains.append(
            LabMailDomain(
                host.domain,
                host.address,
                str(GATEWAY),
                host_spki(host),
                frozenset(faults.get(h.name, ())),
                more,
            )
        )
    return domains


def start_lab_dns(state: LabState, *, web: bool = True) -> None:
    """Start (or restart) the lab's dnsmasq, and nginx unless `web` is False, for every host's domain;
    each is recorded in the lab state (`lab down` stops it by recorded pid)."""
    from mailcert.lab.network import GATEWAY
    from mailcert.lab.pki import LabCA, new_key
    from mailcert.lab.web import write_site

    domains = lab_domains(state)
    old_spki = new_key().public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    zones = [zone_for(d, old_spki=old_spki) for d in domains]
    work = state.dir / DNS_DIR
    work.mkdir(parents=True, exist_ok=True)
    listen = str(GATEWAY)
    argv = dnsmasq_args(zones, [d.domain for d in domains], listen, LAB_DNS_PORT, work)
    _restart(state, DNS_ROLE, argv, work / "dnsmasq.out", lambda: _answers_dns(listen, LAB_DNS_PORT))
    if web:
        site = state.dir / WEB_DIR
        conf = write_site(domains, LabCA.load(state.dir / "pki"), site, listen, now_utc())
        argv = ["nginx", "-c", str(conf), "-p", str(site)]
        _restart(state, WEB_ROLE, argv, site / "nginx.out", lambda: _accepts(listen, 443))


def republish(lab_dir: Path) -> None:
    """Re-read every host's key into the lab zone (after planting or resetting changed a lineage)."""
    state = LabState.load(lab_dir.resolve())
    if state is not None and any(p.role == DNS_ROLE for p in state.acme):
        start_lab_dns(state, web=False)


def publish(lab_dir: Path, faults: Mapping[str, Collection[str]]) -> None:
    """Plant DNS/web faults (`tlsa-old-key`, `srv-465-starttls`, `autoconfig-ssl-587`, `mta-sts-mx-mismatch`,
    `autodiscover-wrong-cert`) per host, replacing those planted before; `{}` makes every domain healthy."""
    from mailcert.lab.web import WEB_FAULTS

    state = LabState.load(lab_dir.resolve())
    if state is None or state.phase != "up":
        raise LabError(f"no lab is up under {lab_dir}", todo="run `mailcert lab up` first (or give --dir)")
    for host, names in faults.items():
        if host not in state.hosts:
            raise LabError(f"no lab host named {host!r}", todo=f"hosts are: {', '.join(state.hosts)}")
        unknown = sorted(set(names) - set(DNS_FAULTS) - set(WEB_FAULTS))
        if unknown:
            raise LabError(
                f"unknown DNS fault {unknown[0]!r}",
                todo=f"choose from: {', '.join((*DNS_FAULTS, *WEB_FAULTS))}",
            )
    path = state.dir / DNS_DIR / FAULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({h: sorted(n) for h, n in faults.items() if n}, indent=2) + "\n")
    start_lab_dns(state)


def _restart(state: LabState, role: str, argv: Sequence[str], log: Path, ready: Callable[[], bool]) -> None:
    """Stop the recorded process of `role`, start argv detached (it outlives `lab up`), wait until it answers."""
    old = [p for p in state.acme if p.role == role]
    terminate(old)
    state.acme = [p for p in state.acme if p.role != role]
    state.save()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    for _ in range(200):
        if proc.poll() is not None:
            said = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise LabError(
                f"{role} ({argv[0]}) did not start: {' / '.join(said) or 'no output'}", where=str(log)
            )
        if ready():
            state.acme.append(RecordedProcess.of(proc.pid, role))
            state.save()
            return
        time.sleep(0.025)
    proc.kill()
    proc.wait(timeout=5)
    raise LabError(f"{role} ({argv[0]}) did not answer within 5 s", where=str(log))


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.2):
            return True
    except OSError:
        return False
