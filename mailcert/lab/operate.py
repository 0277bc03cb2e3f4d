"""Operating a running lab: status, commands inside a host, planting and resetting faults (test fixtures)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from mailcert.lab import LabError, pebble
from mailcert.lab import network as net
from mailcert.lab.certs import HostPKI
from mailcert.lab.dns import republish
from mailcert.lab.faults import FaultSite, fault_named, misfit
from mailcert.lab.hostsetup import write_mail_files
from mailcert.lab.inventory import CA_BUNDLE, INVENTORY
from mailcert.lab.kinds import HostKind, kind_named
from mailcert.lab.layout import LabHost, now_utc
from mailcert.lab.pki import LabCA
from mailcert.lab.procs import RecordedProcess, require_root
from mailcert.lab.services import InHost
from mailcert.lab.state import HostState, LabState


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
    require_root()
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
    _wait_listening(shell.host.address, kind.ports, deadline)


def _wait_listening(address: str, ports: Iterable[int], deadline: float) -> None:
    """A reload is done when every mail port accepts connections again (Exim re-executes itself on HUP,
    leaving its ports closed for a moment); give up quietly at the deadline, the caller's checks will say."""
    for port in ports:
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((address, port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)


def reset_host(lab_dir: Path, name: str) -> None:
    """Put a host back to healthy: rewrite its mail configs and certificate, reload its daemons."""
    state = require_state(lab_dir)
    shell = shell_for(state, name)
    kind = kind_named(state.hosts[name].kind)
    write_mail_files(shell.host, kind, _pki_for(state))
    _reload_all(shell, kind, state.hosts[name], state)
    state.hosts[name].faults = []
    state.save()
    republish(lab_dir)  # the lab zone's TLSA records follow the host's (new) key


def plant_fault(lab_dir: Path, name: str, fault_name: str) -> None:
    """Plant one fault on a running host the way it happens: edit/swap, then reload (unless it is `stale`)."""
    fault = fault_named(fault_name)
    state = require_state(lab_dir)
    shell = shell_for(state, name)
    if not fault.fits(shell.host.kind):
        raise misfit(fault_name, name, shell.host.kind)
    fault.plant(FaultSite(shell.host, _pki_for(state)))
    if not fault.on_running_host:
        _reload_all(shell, kind_named(state.hosts[name].kind), state.hosts[name], state)
    state.hosts[name].faults.append(fault_name)
    state.save()
    republish(lab_dir)
