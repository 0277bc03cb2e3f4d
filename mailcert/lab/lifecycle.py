"""`lab up`, `lab down`, `lab status`, `lab exec`, and the per-host plant/reset the test fixtures use."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mailcert.lab import LabError, pebble
from mailcert.lab import network as net
from mailcert.lab.certs import HostPKI
from mailcert.lab.faults import FaultSite, assign_faults, fault_named
from mailcert.lab.inventory import (
    CA_BUNDLE,
    INVENTORY,
    KNOWN_HOSTS,
    SSH_KEY,
    ensure_ssh_key,
    write_ca_bundle,
    write_inventory,
    write_known_hosts,
)
from mailcert.lab.kinds import DEFAULT_KIND, HostKind, kind_named
from mailcert.lab.layout import (
    BASE_BIND_DIRS,
    LabHost,
    now_utc,
    prune_letsencrypt,
    write_base_system,
    write_deploy_hook,
)
from mailcert.lab.pki import LabCA, cert_pem, make_ca
from mailcert.lab.procs import RecordedProcess, terminate
from mailcert.lab.services import InHost, start_anchor, start_sshd
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
)


@dataclass(frozen=True)
class UpResult:
    lab_dir: Path
    hosts: tuple[LabHost, ...]
    faults: dict[str, list[str]]
    already_up: bool


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, bind mounts)", todo="run it with sudo")


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
) -> UpResult:
    """Build the lab under lab_dir: network, hosts, daemons, ACME, inventory. Idempotent."""
    _require_root()
    lab_dir = lab_dir.resolve()
    host_kinds = [kind_named(k) for k in (kinds or [DEFAULT_KIND])]
    _require_binaries(host_kinds)
    hosts = host_list(lab_dir, count, [k.name for k in host_kinds])
    plan = assign_faults(faults, [h.name for h in hosts])

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
            _build_host(host, host_state, pki, public_key, lock, state)

        with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
            for future in [pool.submit(build, host) for host in hosts]:
                future.result()

        pebble.map_names({name: host.address for host in hosts for name in host.hostnames})
        pebble_root = pebble.fetch_issuing_root(lab_dir / "pki" / "root-ca.pem")
        (acme_dir / "pebble-root.pem").write_bytes(pebble_root)
        write_ca_bundle(lab_dir, [cert_pem(ca.root.cert), pebble_root])
        write_known_hosts(lab_dir, hosts)
        write_inventory(lab_dir, hosts, pebble.ACME_DIRECTORY)
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


def _bind_list(host: LabHost, kind: HostKind) -> list[tuple[Path, str]]:
    dirs = [*BASE_BIND_DIRS, *(d for svc in kind.services for d in svc.bind_dirs)]
    return [(host.path(d), d) for d in dirs if not d.startswith("/etc/")]  # /etc comes whole


def _write_mail_files(host: LabHost, kind: HostKind, pki: HostPKI) -> None:
    """The healthy mail setup: service configs, a certbot lineage, the deploy hook. Rewritten on reset."""
    for svc in kind.services:
        svc.configure(host)
    pki.install_healthy(host)
    write_deploy_hook(host, [svc.reload_command for svc in kind.services])
    prune_letsencrypt(host)


def _build_host(
    host: LabHost, host_state: HostState, pki: HostPKI, public_key: str, lock: threading.Lock, state: LabState
) -> None:
    kind = kind_named(host.kind)
    net.create_host_network(host.name, host.address)
    if host.root.exists():
        shutil.rmtree(host.root)
    write_base_system(host, public_key)
    for svc in kind.services:
        svc.prepare(host)
    _write_mail_files(host, kind, pki)
    faults = [fault_named(name) for name in host_state.faults]
    for fault in faults:
        if not fault.on_running_host:
            fault.plant(FaultSite(host, pki))
    binds = _bind_list(host, kind)
    _make_mountpoints([target for _, target in binds], lock, state)
    anchor = start_anchor(host, binds)
    with lock:
        host_state.anchor = anchor
        state.save()
    shell = InHost(host, anchor)
    for lower, target in (overlay for svc in kind.services for overlay in svc.overlays):
        shell.run(
            ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower}:{target}", target],
            what=f"overlaying {lower} on {target}",
        )
    started = [start_sshd(shell)]
    for svc in kind.services:
        started.append(svc.start(shell))
    with lock:
        host_state.processes += started
        state.save()
    running_faults = [fault for fault in faults if fault.on_running_host]
    if running_faults:
        _first_clients(host, kind)
    for fault in running_faults:
        fault.plant(FaultSite(host, pki))


def _first_clients(host: LabHost, kind: HostKind) -> None:
    """One TLS handshake per implicit-TLS port, as the first clients of the day would make.

    Dovecot loads its certificate when its config process first serves a login process; a renewal
    before any client connected would not be stale yet.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for port, (_, mode) in sorted(kind.ports.items()):
        if mode != "implicit":
            continue
        try:
            with (
                socket.create_connection((host.address, port), timeout=5) as sock,
                context.wrap_socket(sock, server_hostname=host.fqdn),
            ):
                pass
        except OSError:
            continue  # a host planted broken on this port: nothing to load


def _make_mountpoints(targets: Sequence[str], lock: threading.Lock, state: LabState) -> None:
    """Bind mounts need a target: make missing folders (recorded first, removed again by `lab down`)."""
    with lock:
        for target in targets:
            path = Path(target)
            if path.exists():
                continue
            missing = [p for p in [path, *path.parents] if not p.exists()]
            state.made_mountpoints += [str(p) for p in missing if str(p) not in state.made_mountpoints]
            state.save()
            path.mkdir(parents=True)


def _remove_mountpoints(state: LabState) -> None:
    for made in sorted(state.made_mountpoints, key=len, reverse=True):
        path = Path(made)
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()


def down(lab_dir: Path, say: Callable[[str], None] = print, *, keep_files: bool = False) -> bool:
    """Remove the lab recorded under lab_dir: processes (by recorded pid, then every process left in a
    host's namespace), veths, namespaces, bridge, and the generated files. False when nothing was up."""
    _require_root()
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
                if _alive(pid)
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
    _remove_mountpoints(state)
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
    _require_root()
    stopped = 0
    for netns in sorted(n for n in net.existing_netns() if n.startswith(net.NETNS_PREFIX)):
        for _ in range(3):
            left = [
                RecordedProcess.of(pid, "left in namespace") for pid in net.netns_pids(netns) if _alive(pid)
            ]
            if not left:
                break
            stopped += len(left)
            terminate(left)
        host = netns.removeprefix(net.NETNS_PREFIX)
        net.remove_host_network(host)
        say(f"mailcert lab: removed namespace {netns}")
    listeners = [RecordedProcess.of(pid, "lab listener") for pid in net.listeners_on_gateway() if _alive(pid)]
    stopped += len(listeners)
    terminate(listeners)
    net.remove_bridge()
    return stopped


def _alive(pid: int) -> bool:
    try:
        RecordedProcess.of(pid, "probe")
    except LabError:
        return False
    return True


def require_state(lab_dir: Path) -> LabState:
    state = LabState.load(lab_dir.resolve())
    if state is None or state.phase != "up":
        raise LabError(f"no lab is up under {lab_dir}", todo="run `mailcert lab up` first (or give --dir)")
    return state


def shell_for(state: LabState, name: str) -> InHost:
    host = state.hosts.get(name)
    if host is None:
        raise LabError(f"no lab host named {name!r}", todo=f"hosts are: {', '.join(state.hosts)}")
    if host.anchor is None:
        raise LabError(f"lab host {name} never started", todo="run `mailcert lab down` and `mailcert lab up`")
    return InHost(LabHost(host.name, host.kind, host.address, state.dir), host.anchor)


def exec_in_host(lab_dir: Path, name: str, command: Sequence[str]) -> int:
    """Run a command as root inside a lab host, attached to this terminal; its exit code."""
    _require_root()
    if not command:
        raise LabError(
            "nothing to run", todo="give a command after `--`: mailcert lab exec mx1 -- postconf -n"
        )
    shell = shell_for(require_state(lab_dir), name)
    return subprocess.run(shell.argv(command), check=False).returncode


def host_status(state: LabState, name: str) -> dict[str, object]:
    host = state.hosts[name]
    services: dict[str, str] = {}
    alive = host.anchor is not None and host.anchor.alive()
    if alive:
        shell = shell_for(state, name)
        sshd = [p for p in host.processes if p.role == "sshd"]
        services["sshd"] = "running" if sshd and sshd[0].alive() else "stopped"
        for svc in kind_named(host.kind).services:
            services[svc.name] = "running" if svc.running(shell) else "stopped"
    up_now = alive and all(v == "running" for v in services.values())
    return {
        "name": host.name,
        "kind": host.kind,
        "address": host.address,
        "hostnames": list(LabHost(host.name, host.kind, host.address, state.dir).hostnames),
        "state": "running" if up_now else ("degraded" if alive else "stopped"),
        "services": services,
        "faults": list(host.faults),
    }


def status(lab_dir: Path) -> dict[str, object]:
    lab_dir = lab_dir.resolve()
    state = LabState.load(lab_dir)
    if state is None:
        return {"dir": str(lab_dir), "state": "down", "hosts": [], "acme": None}
    hosts = [host_status(state, name) for name in state.hosts]
    acme_ok = bool(state.acme) and all(p.alive() for p in state.acme)
    overall = (
        "up"
        if state.phase == "up" and acme_ok and all(h["state"] == "running" for h in hosts)
        else "degraded"
    )
    return {
        "dir": str(lab_dir),
        "state": overall,
        "inventory": str(lab_dir / INVENTORY),
        "ca_bundle": str(lab_dir / CA_BUNDLE),
        "acme": {"server": pebble.ACME_DIRECTORY, "state": "running" if acme_ok else "stopped"},
        "hosts": hosts,
    }


# -- planting and resetting faults on a running lab (test fixtures, demos) ---------------------------
def _pki_for(state: LabState) -> HostPKI:
    return HostPKI(ca=LabCA.load(state.dir / "pki"), now=now_utc(), acme_server=pebble.ACME_DIRECTORY)


# Processes that hold a loaded certificate: after a reload the old ones must be gone before a client
# connecting is sure to meet the new configuration (matched by name only to wait for them, never to kill).
_TLS_WORKERS = frozenset({"smtpd", "tlsmgr", "tlsproxy", "imap-login", "pop3-login", "config"})


def _tls_workers(netns: str) -> list[RecordedProcess]:
    workers = []
    for pid in net.netns_pids(netns):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if comm in _TLS_WORKERS:
                workers.append(RecordedProcess.of(pid, comm))
        except (OSError, LabError):
            continue
    return workers


def _reload_all(shell: InHost, kind: HostKind, host_state: HostState, state: LabState) -> None:
    """Reload (or start) every service, then wait until workers holding the old certificate have exited."""
    old_workers = _tls_workers(shell.host.netns)
    for svc in kind.services:
        if svc.running(shell):
            svc.reload(shell)
        else:
            host_state.processes.append(svc.start(shell))
            state.save()
    deadline = time.monotonic() + 10
    while any(w.alive() for w in old_workers) and time.monotonic() < deadline:
        time.sleep(0.05)


def reset_host(lab_dir: Path, name: str) -> None:
    """Put a host back to healthy: rewrite its mail configs and certificate, reload its daemons."""
    state = require_state(lab_dir)
    shell = shell_for(state, name)
    kind = kind_named(state.hosts[name].kind)
    _write_mail_files(shell.host, kind, _pki_for(state))
    _reload_all(shell, kind, state.hosts[name], state)
    state.hosts[name].faults = []
    state.save()


def plant_fault(lab_dir: Path, name: str, fault_name: str) -> None:
    """Plant one fault on a running host the way it happens: edit/swap, then reload (unless it is `stale`)."""
    fault = fault_named(fault_name)
    state = require_state(lab_dir)
    shell = shell_for(state, name)
    fault.plant(FaultSite(shell.host, _pki_for(state)))
    if not fault.on_running_host:
        _reload_all(shell, kind_named(state.hosts[name].kind), state.hosts[name], state)
    state.hosts[name].faults.append(fault_name)
    state.save()
