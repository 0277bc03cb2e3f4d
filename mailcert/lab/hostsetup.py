"""Building one lab host: its files, its namespaces and bind mounts, its daemons, its planted faults."""

from __future__ import annotations

import shutil
import socket
import ssl
import threading
from collections.abc import Sequence
from pathlib import Path

from mailcert.lab import network as net
from mailcert.lab.certs import HostPKI
from mailcert.lab.faults import FaultSite, fault_named
from mailcert.lab.kinds import HostKind, kind_named
from mailcert.lab.layout import (
    BASE_BIND_DIRS,
    LabHost,
    prune_letsencrypt,
    write_base_system,
    write_deploy_hook,
)
from mailcert.lab.services import InHost, start_anchor, start_sshd
from mailcert.lab.state import HostState, LabState
from mailcert.lab.systemroot import MACHINE


def bind_list(host: LabHost, kind: HostKind) -> list[tuple[Path, str]]:
    """What the anchor bind-mounts, in order: the system's /usr first when it is not the machine's (a Debian 13
    host), then the host's own folders (/etc comes whole)."""
    dirs = [*BASE_BIND_DIRS, *(d for svc in kind.services for d in svc.bind_dirs)]
    own = [(host.path(d), d) for d in dirs if not d.startswith("/etc/")]
    return own if host.system == MACHINE else [(host.system_path("/usr"), "/usr"), *own]


def write_mail_files(host: LabHost, kind: HostKind, pki: HostPKI) -> None:
    """The healthy mail setup: service configs, a certbot lineage, the deploy hook. Rewritten on reset."""
    for svc in kind.services:
        svc.configure(host)
    pki.install_healthy(host)
    write_deploy_hook(host, [svc.reload_command for svc in kind.services])
    prune_letsencrypt(host)


def build_host(
    host: LabHost, host_state: HostState, pki: HostPKI, public_key: str, lock: threading.Lock, state: LabState
) -> None:
    kind = kind_named(host.kind)
    net.create_host_network(host.name, host.address)
    if host.root.exists():
        shutil.rmtree(host.root)
    write_base_system(host, public_key)
    for svc in kind.services:
        svc.prepare(host)
    write_mail_files(host, kind, pki)
    faults = [fault_named(name) for name in host_state.faults]
    for fault in faults:
        if not fault.on_running_host:
            fault.plant(FaultSite(host, pki))
    binds = bind_list(host, kind)
    make_mountpoints([target for _, target in binds], lock, state)
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


def make_mountpoints(targets: Sequence[str], lock: threading.Lock, state: LabState) -> None:
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


def remove_mountpoints(state: LabState) -> None:
    for made in sorted(state.made_mountpoints, key=len, reverse=True):
        path = Path(made)
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()
