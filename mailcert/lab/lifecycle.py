"""`lab up` and `lab down` (and `down --force`): the lab's whole life on the machine, recorded in its state.

Building one host is mailcert.lab.hostsetup; operating a running lab (status, exec, plant/reset) is
mailcert.lab.operate, re-exported here for callers of the whole lifecycle.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mailcert.lab import LabError, bind, latency, pebble
from mailcert.lab import network as net
from mailcert.lab.certs import HostPKI
from mailcert.lab.dns import start_lab_dns
from mailcert.lab.faults import assign_faults
from mailcert.lab.hostsetup import build_host, remove_mountpoints
from mailcert.lab.inventory import (
    CA_BUNDLE,
    INVENTORY,
    KNOWN_HOSTS,
    SSH_KEY,
    SshVia,
    ensure_ssh_key,
    write_ca_bundle,
    write_inventory,
    write_known_hosts,
)
from mailcert.lab.kinds import DEFAULT_KIND, HostKind, kind_named
from mailcert.lab.layout import (
    LabHost,
    now_utc,
)
from mailcert.lab.operate import (
    exec_in_host,
    host_status,
    plant_fault,
    require_state,
    reset_host,
    shell_for,
    status,
)
from mailcert.lab.pki import cert_pem, make_ca
from mailcert.lab.procs import RecordedProcess, require_root, running, terminate
from mailcert.lab.state import HostState, LabState, pointer_dir, release_pointer

BASE_BINARIES = (
    "ip",
    "nsenter",
    "unshare",
    "mount",
    "sshd",
    "ssh-keygen",
    "sudo",
    "certbot",
    "pebble",
    "pebble-challtestsrv",
)
GENERATED = (
    "group_vars",  # lab up --central
    "hosts",
    "pki",
    "acme",
    "host_vars",
    INVENTORY,
    KNOWN_HOSTS,
    CA_BUNDLE,
    SSH_KEY,
    SSH_KEY + ".pub",
    "state.json",
    "latency.ready",
    "dns",  # the lab DNS and web server (mailcert.lab.dns)
    "web",
)
# `lab up --delay`: host NAME's sshd is reached through the proxy at GATEWAY:PROXY_PORT_BASE+last octet.
PROXY_PORT_BASE = 22000


@dataclass(frozen=True)
class UpResult:
    lab_dir: Path
    hosts: tuple[LabHost, ...]
    faults: dict[str, list[str]]
    already_up: bool


def _require_binaries(kinds: Sequence[HostKind]) -> None:
    needed = list(BASE_BINARIES) + [b for kind in kinds for b in kind.binaries]
    missing = sorted({b for b in needed if shutil.which(b) is None})
    if missing:
        raise LabError(
            f"the lab needs programs that are not installed: {', '.join(missing)}",
            todo="run `sudo sh scripts/install-system-deps` (or `make deps`) and try again",
        )


def host_list(lab_dir: Path, count: int, kinds: Sequence[str]) -> list[LabHost]:
    if count < 1:
        raise LabError("--hosts must be at least 1")
    kinds = list(kinds) or [DEFAULT_KIND]
    return [
        LabHost(name=f"mx{i + 1}", kind=kinds[i % len(kinds)], address=net.host_address(i), lab_dir=lab_dir)
        for i in range(count)
    ]


def parse_tarpits(text: str, names: Sequence[str]) -> dict[str, str]:
    """`--tarpit mx3,mx4:trickle` → {host: mode}; stall unless the mode is given."""
    tarpits: dict[str, str] = {}
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        name, _, mode = word.partition(":")
        mode = mode or "stall"
        if name not in names:
            raise LabError(
                f"--tarpit {word}: no lab host named {name!r}", todo=f"hosts are: {', '.join(names)}"
            )
        if mode not in ("stall", "trickle"):
            raise LabError(
                f"--tarpit {word}: a tarpit is `stall` (never answers) or `trickle` (a byte a second)"
            )
        tarpits[name] = mode
    return tarpits


def proxy_routes(hosts: Sequence[LabHost], delay_ms: int, tarpits: dict[str, str]) -> list[latency.Route]:
    """One route per host: GATEWAY:22011 → 10.213.0.11:22 (delay), or a tarpit for the hosts named."""
    routes = []
    for host in hosts:
        port = PROXY_PORT_BASE + int(host.address.rsplit(".", 1)[1])
        mode = tarpits.get(host.name, "delay")
        routes.append(latency.Route(str(net.GATEWAY), port, host.address, 22, mode, delay_ms))
    return routes


def hosts_of(state: LabState) -> list[LabHost]:
    return [LabHost(h.name, h.kind, h.address, state.dir) for h in state.hosts.values()]


def is_up(state: LabState) -> bool:
    return (
        state.phase == "up"
        and all(h.anchor is not None and h.anchor.alive() for h in state.hosts.values())
        and all(p.alive() for p in state.acme)
    )


def up(
    lab_dir: Path,
    count: int = 3,
    faults: str = "none",
    kinds: Sequence[str] = (),
    say: Callable[[str], None] = print,
    *,
    delay_ms: int | None = None,
    tarpit: str = "",
    central: bool = False,
) -> UpResult:
    """Build the lab under lab_dir: network, hosts, daemons, ACME, inventory. Idempotent.

    With `delay_ms` (or tarpits), every host's SSH port is reached through the lab's latency proxy on
    the bridge address: the inventory and known_hosts name the proxy's address and port."""
    require_root()
    lab_dir = lab_dir.resolve()
    host_kinds = [kind_named(k) for k in (kinds or [DEFAULT_KIND])]
    _require_binaries(host_kinds)
    hosts = host_list(lab_dir, count, [k.name for k in host_kinds])
    plan = assign_faults(faults, [h.name for h in hosts], {h.name: h.kind for h in hosts})
    if delay_ms is not None and not 0 <= delay_ms <= 60_000:
        raise LabError(f"--delay {delay_ms}: give a one-way delay in milliseconds, 0 to 60000")
    tarpits = parse_tarpits(tarpit, [h.name for h in hosts])

    existing = LabState.load(lab_dir)
    if existing is not None:
        if is_up(existing):
            return UpResult(
                lab_dir, tuple(hosts_of(existing)), {h.name: h.faults for h in existing.hosts.values()}, True
            )
        say(f"mailcert lab: removing a half-built lab under {lab_dir} first")
        down(lab_dir, say=lambda _: None)
    owner = pointer_dir()
    if owner is not None and owner != lab_dir and LabState.load(owner) is not None:
        raise LabError(
            f"a lab is already up under {owner} (one lab per machine: it owns {net.LAB_NETWORK})",
            todo=f"run `mailcert lab down --dir {owner}` first",
        )
    users = net.range_users()
    if users:
        raise LabError(
            f"the lab's address range {net.LAB_NETWORK} is already in use on this machine: {'; '.join(users)}",
            todo="free that range (or remove a leftover lab with `ip link del mcl-br0`) and try again",
        )

    lab_dir.mkdir(parents=True, exist_ok=True)
    state = LabState(dir=lab_dir)
    state.save()
    lock = threading.Lock()
    try:
        state.bridge = net.BRIDGE
        state.save()
        net.create_bridge()
        now = now_utc()
        ca = make_ca(now)
        ca.save(lab_dir / "pki")
        public_key = ensure_ssh_key(lab_dir)
        pki = HostPKI(ca=ca, now=now, acme_server=pebble.ACME_DIRECTORY)

        def record(proc: RecordedProcess, host: HostState | None = None) -> None:
            with lock:
                (host.processes if host else state.acme).append(proc)
                state.save()

        acme_dir = lab_dir / "acme"
        config = pebble.write_config(acme_dir, ca, now)
        record(pebble.start_dns(acme_dir))
        record(pebble.start_pebble(config))

        def build(host: LabHost) -> None:
            host_state = HostState(
                name=host.name, kind=host.kind, address=host.address, netns=host.netns,
                veth=net.veth_name(host.name), faults=list(plan[host.name]),
            )  # fmt: skip
            with lock:
                state.hosts[host.name] = host_state
                state.save()
            build_host(host, host_state, pki, public_key, lock, state)

        with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
            for future in [pool.submit(build, host) for host in hosts]:
                future.result()

        pebble.map_names({name: host.address for host in hosts for name in host.hostnames})
        pebble_root = pebble.fetch_issuing_root(lab_dir / "pki" / "root-ca.pem")
        (acme_dir / "pebble-root.pem").write_bytes(pebble_root)
        roots = [cert_pem(ca.root.cert), pebble_root]
        if central:  # BIND + a Pebble validating DNS-01 through it, inventory in central mode (lab/bind.py)
            names = [name for host in hosts for name in host.hostnames]
            roots.append(bind.start_central(lab_dir, ca, now, names, lambda proc: record(proc)))
        write_ca_bundle(lab_dir, roots)
        via: SshVia = {}
        if delay_ms is not None or tarpits:
            routes = proxy_routes(hosts, delay_ms or 0, tarpits)
            record(latency.start(routes, lab_dir / "latency.ready"))
            via = {host.name: (r.listen_host, r.listen_port) for host, r in zip(hosts, routes, strict=True)}
        write_known_hosts(lab_dir, hosts, via)
        write_inventory(lab_dir, hosts, pebble.ACME_DIRECTORY, via)
        start_lab_dns(state)  # dnsmasq + nginx: the hosts' mail domains (MX, SRV, TLSA, autoconfig, ...)
        state.phase = "up"
        state.save()
    except BaseException:
        say("mailcert lab: `lab up` failed; removing what it built")
        try:
            down(lab_dir, say=lambda _: None, keep_files=True)
        except LabError as cleanup_error:
            say(f"mailcert lab: cleanup also failed: {cleanup_error.line()}")
        raise
    return UpResult(lab_dir, tuple(hosts), plan, False)


def down(lab_dir: Path, say: Callable[[str], None] = print, *, keep_files: bool = False) -> bool:
    """Remove the lab recorded under lab_dir: processes (by recorded pid, then every process left in a
    host's namespace), veths, namespaces, bridge, and the generated files. False when nothing was up."""
    require_root()
    lab_dir = lab_dir.resolve()
    state = LabState.load(lab_dir)
    if state is None:
        owner = pointer_dir()
        if owner is not None and owner != lab_dir:
            raise LabError(
                f"no lab under {lab_dir}; the lab on this machine is under {owner}",
                todo=f"run `mailcert lab down --dir {owner}`",
            )
        return False

    def remove(host: HostState) -> None:
        terminate([*host.processes, *([host.anchor] if host.anchor else [])])
        # Daemons restarted since `up` (postfix stop/start, sshd sessions) have pids nobody recorded:
        # what is left in the host's network namespace belongs to the host.
        for _ in range(3):
            left = [
                RecordedProcess.of(pid, "left in namespace")
                for pid in net.netns_pids(host.netns)
                if running(pid)
            ]
            if not left:
                break
            terminate(left)
        net.remove_host_network(host.name)

    hosts = list(state.hosts.values())
    if hosts:
        with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
            for host, future in [(h, pool.submit(remove, h)) for h in hosts]:
                future.result()
                say(f"mailcert lab: removed {host.name} ({host.address})")
    terminate(state.acme)
    if state.bridge:
        net.remove_bridge()
    remove_mountpoints(state)
    release_pointer(lab_dir)
    if keep_files:
        state.path.unlink(missing_ok=True)
    else:
        for name in GENERATED:
            path = lab_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        if lab_dir.exists() and not any(lab_dir.iterdir()):
            lab_dir.rmdir()
    return True


def sweep(say: Callable[[str], None] = print) -> int:
    """Remove a lab whose state is lost: processes found by namespace (each lab host's) or by socket
    (listening on the lab bridge address), then the hosts' veths and namespaces and the bridge.
    Returns how many processes were stopped."""
    require_root()
    stopped = 0
    for netns in sorted(n for n in net.existing_netns() if n.startswith(net.NETNS_PREFIX)):
        for _ in range(3):
            left = [
                RecordedProcess.of(pid, "left in namespace") for pid in net.netns_pids(netns) if running(pid)
            ]
            if not left:
                break
            stopped += len(left)
            terminate(left)
        host = netns.removeprefix(net.NETNS_PREFIX)
        net.remove_host_network(host)
        say(f"mailcert lab: removed namespace {netns}")
    listeners = [
        RecordedProcess.of(pid, "lab listener") for pid in net.listeners_on_gateway() if running(pid)
    ]
    stopped += len(listeners)
    terminate(listeners)
    net.remove_bridge()
    return stopped


# The running-lab operations live in mailcert.lab.operate; these names stay importable from here.
__all__ = [
    "UpResult", "down", "exec_in_host", "host_status", "plant_fault", "require_state", "reset_host",
    "shell_for", "status", "sweep", "up",
]  # fmt: skip
