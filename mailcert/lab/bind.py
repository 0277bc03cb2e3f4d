"""The lab's RFC 2136 DNS for central issuance: BIND (named) authoritative for `_acme-challenge.NAME`
zones, updatable only with a TSIG key and only for the TXT record at the zone's own name, plus a Pebble
that validates DNS-01 against it.

BIND listens on its own loopback address (BIND_ADDRESS:53), away from dnsmasq and challtestsrv. Names
it is not authoritative for are forwarded (when `forward_to` is given) to the lab's mock DNS, so the
Pebble pointed at it (`-dnsserver BIND_ADDRESS:53`) still resolves every lab name. That Pebble is a
second instance (ports CENTRAL_ACME_PORT / CENTRAL_MANAGEMENT_PORT on the bridge): the lab's own Pebble
and the accounts certbot made with it stay untouched.

Three TSIG keys: `acme` (granted the _acme-challenge TXT records), `denied` (a valid key that is granted
nothing: BIND answers REFUSED) and `wrong` (the acme key's name with another secret: BIND answers
NOTAUTH/BADSIG). Each has a certbot-dns-rfc2136 credentials file (mode 600) in the work folder.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailcert.lab import LabError, pebble
from mailcert.lab.network import BRIDGE, GATEWAY
from mailcert.lab.pki import LabCA
from mailcert.lab.procs import RecordedProcess, run, start_when_ready, stop_started

BIND_ADDRESS = "127.213.1.53"  # tests' own BIND (tests/lab/central.py)
LAB_BIND_ADDRESS = "10.213.0.253"  # `lab up --central`: on the bridge, gone with it
BIND_PORT = 53
CENTRAL_ACME_PORT = 14001
CENTRAL_MANAGEMENT_PORT = 15001
CENTRAL_ACME_DIRECTORY = f"https://{GATEWAY}:{CENTRAL_ACME_PORT}/dir"
ALGORITHM = "hmac-sha256"
KEY_NAMES = {"acme": "mailcert-acme.", "denied": "mailcert-denied.", "wrong": "mailcert-acme."}


def challenge_zone(name: str) -> str:
    """The zone BIND serves for one certificate name: `_acme-challenge.NAME` (absolute, no trailing dot)."""
    name = name.lower().rstrip(".").removeprefix("*.")
    if not name or any(c.isspace() or c in '";{}\\' for c in name):
        raise LabError(f"not a DNS name for the lab's BIND: {name!r}")
    return f"_acme-challenge.{name}"


def named_conf(
    workdir: Path,
    zones: Sequence[str],
    keys: dict[str, str],
    *,
    listen: str,
    port: int,
    forward_to: tuple[str, int] | None,
) -> str:
    """named.conf: our folder only, no rndc, one master zone per challenge name, updates by TSIG policy."""
    forwarding = (
        f"    forwarders {{ {forward_to[0]} port {forward_to[1]}; }};\n    forward only;\n"
        if forward_to
        else ""
    )
    text = f"""options {{
    directory "{workdir}";
    pid-file "{workdir}/named.pid";
    session-keyfile "{workdir}/session.key";
    managed-keys-directory "{workdir}";
    listen-on port {port} {{ {listen}; }};
    listen-on-v6 {{ none; }};
    recursion {"yes" if forward_to else "no"};
    allow-recursion {{ 127.0.0.0/8; 10.213.0.0/24; }};
{forwarding}    dnssec-validation no;
    notify no;
    allow-transfer {{ none; }};
}};
controls {{ }};
logging {{
    channel lab {{ file "{workdir}/named.log"; severity info; print-time yes; }};
    category default {{ lab; }};
    category update {{ lab; }};
    category update-security {{ lab; }};
}};
"""
    for role in ("acme", "denied"):
        text += f'key "{KEY_NAMES[role]}" {{ algorithm {ALGORITHM}; secret "{keys[role]}"; }};\n'
    for zone in zones:
        text += (
            f'zone "{zone}" {{ type primary; file "{workdir}/zones/{zone}.zone"; '
            f"update-policy {{ grant {KEY_NAMES['acme']} name {zone}. TXT; }}; }};\n"
        )
    return text


def zone_text(zone: str) -> str:
    return (
        "$TTL 60\n"
        "@ IN SOA ns.bind.mailcert.test. hostmaster.mailcert.test. 1 60 60 600 60\n"
        "@ IN NS ns.bind.mailcert.test.\n"
    )


def credentials_text(role: str, secret: str, *, server: str, port: int) -> str:
    """A certbot-dns-rfc2136 credentials file for one of the keys."""
    return (
        f"dns_rfc2136_server = {server}\n"
        f"dns_rfc2136_port = {port}\n"
        f"dns_rfc2136_name = {KEY_NAMES[role]}\n"
        f"dns_rfc2136_secret = {secret}\n"
        f"dns_rfc2136_algorithm = {ALGORITHM.upper()}\n"
    )


def _secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class LabBind:
    """A running named for the lab's challenge zones (start/stop; `credentials(role)` for certbot)."""

    workdir: Path
    listen: str = BIND_ADDRESS
    port: int = BIND_PORT
    forward_to: tuple[str, int] | None = None
    zones: tuple[str, ...] = ()
    keys: dict[str, str] = field(default_factory=dict)
    process: RecordedProcess | None = None
    _popen: subprocess.Popen[bytes] | None = None
    _added_address: bool = False

    @property
    def server(self) -> str:
        return f"{self.listen}:{self.port}"

    def credentials(self, role: str = "acme") -> Path:
        return self.workdir / f"rfc2136-{role}.ini"

    def start(self, names: Sequence[str]) -> None:
        """Serve `_acme-challenge.NAME` for every name (fresh zones, fresh keys) and wait until it answers."""
        self.stop()
        self.zones = tuple(dict.fromkeys(challenge_zone(n) for n in names))
        if not self.zones:
            raise LabError("the lab's BIND needs at least one name to serve a challenge zone for")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o700)
        zones_dir = self.workdir / "zones"
        zones_dir.mkdir(exist_ok=True)
        for old in zones_dir.iterdir():
            old.unlink()
        for zone in self.zones:
            (zones_dir / f"{zone}.zone").write_text(zone_text(zone))
        self.keys = {"acme": _secret(), "denied": _secret(), "wrong": _secret()}
        conf = self.workdir / "named.conf"
        conf.write_text(
            named_conf(
                self.workdir, self.zones, self.keys, listen=self.listen, port=self.port,
                forward_to=self.forward_to,
            )
        )  # fmt: skip
        conf.chmod(0o600)
        for role, secret in self.keys.items():
            path = self.credentials(role)
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(credentials_text(role, secret, server=self.listen, port=self.port))
        self._add_address()
        argv = ["named", "-f", "-n", "1", "-4", "-c", str(conf)]
        try:
            self.process, self._popen = start_when_ready(
                argv, lambda: self._answers(), f"named (BIND) on {self.server}"
            )
        except LabError:
            self._remove_address()
            raise

    @property
    def _device(self) -> str:
        return "lo" if self.listen.startswith("127.") else BRIDGE

    def _add_address(self) -> None:
        """named listens only on interface addresses: an address of its own (on lo, or on the lab bridge,
        where it goes away with the bridge) while it runs."""
        if self._added_address:
            return
        device = self._device
        shown = run(
            ["ip", "-4", "-o", "addr", "show", "dev", device], what=f"listing the addresses of {device}"
        )
        if f" {self.listen}/" in shown:
            return
        run(
            ["ip", "addr", "add", f"{self.listen}/32", "dev", device],
            what=f"adding the BIND address to {device}",
        )
        self._added_address = True

    def _remove_address(self) -> None:
        if self._added_address:
            run(
                ["ip", "addr", "del", f"{self.listen}/32", "dev", self._device],
                what="removing the BIND address",
                timeout=10,
            )
            self._added_address = False

    def _answers(self) -> bool:
        import dns.exception
        import dns.flags
        import dns.message
        import dns.query

        try:
            answer = dns.query.udp(
                dns.message.make_query(self.zones[0], "SOA"), self.listen, port=self.port, timeout=0.2
            )
        except (dns.exception.DNSException, OSError):
            return False
        return bool(answer.flags & dns.flags.AA) and bool(answer.answer)

    def stop(self) -> None:
        stop_started(self.process, self._popen)
        self.process, self._popen = None, None
        self._remove_address()

    def txt(self, name: str) -> list[str]:
        """The TXT strings published at `_acme-challenge.NAME` now (for tests)."""
        import dns.message
        import dns.query
        import dns.rdatatype

        answer = dns.query.udp(
            dns.message.make_query(challenge_zone(name), "TXT"), self.listen, port=self.port, timeout=2
        )
        return [
            b"".join(rd.strings).decode()
            for rrset in answer.answer
            if rrset.rdtype == dns.rdatatype.TXT
            for rd in rrset
        ]


@dataclass
class CentralPebble:
    """A second Pebble on the bridge that validates DNS-01 through the lab's BIND."""

    workdir: Path
    dnsserver: str
    process: RecordedProcess | None = None

    directory: str = CENTRAL_ACME_DIRECTORY

    def start(self, ca: LabCA, now: dt.datetime | None = None) -> None:
        self.stop()
        config = pebble.write_config(self.workdir, ca, now or dt.datetime.now(dt.UTC))
        data = json.loads(config.read_text())
        data["pebble"]["listenAddress"] = f"{GATEWAY}:{CENTRAL_ACME_PORT}"
        data["pebble"]["managementListenAddress"] = f"{GATEWAY}:{CENTRAL_MANAGEMENT_PORT}"
        config.write_text(json.dumps(data, indent=2) + "\n")
        self.process = pebble.start_pebble(config, dnsserver=self.dnsserver)

    def issuing_root(self, lab_root_pem: Path) -> bytes:
        return pebble.fetch_issuing_root(lab_root_pem, management_port=CENTRAL_MANAGEMENT_PORT)

    def stop(self) -> None:
        if self.process is not None:
            from mailcert.lab.procs import reap_children, terminate

            terminate([self.process])
            reap_children()
        self.process = None


def start_central(
    lab_dir: Path,
    ca: LabCA,
    now: dt.datetime,
    names: Sequence[str],
    record: Callable[[RecordedProcess], None],
) -> bytes:
    """`lab up --central`: BIND on the bridge for every lab name's challenge zone, a Pebble validating
    DNS-01 through it, and `group_vars/all.yml` beside the inventory switching the lab to central mode.
    Returns that Pebble's issuing root (for the lab's CA bundle)."""
    acme_dir = lab_dir / "acme"
    server = LabBind(acme_dir / "bind", listen=LAB_BIND_ADDRESS, forward_to=(str(GATEWAY), pebble.DNS_PORT))
    server.start(names)
    assert server.process is not None
    record(server.process)
    acme = CentralPebble(acme_dir / "central", dnsserver=server.server)
    acme.start(ca, now)
    assert acme.process is not None
    record(acme.process)
    root = acme.issuing_root(lab_dir / "pki" / "root-ca.pem")
    group_vars = lab_dir / "group_vars"
    group_vars.mkdir(exist_ok=True)
    (group_vars / "all.yml").write_text(
        "# written by `mailcert lab up --central`: certbot on this machine, DNS-01 through the lab's BIND\n"
        "mailcert_acme_mode: central\n"
        "mailcert_acme_challenge: dns-rfc2136\n"
        f"mailcert_acme_server: {acme.directory}\n"
        f"mailcert_acme_dns_credentials: {server.credentials('acme')}\n"
        "mailcert_acme_dns_propagation_seconds: 1\n"
        f"mailcert_central_state_dir: {acme_dir / 'control'}\n"
    )
    return root
