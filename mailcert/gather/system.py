"""Pure parsers of the host facts the gather program sends raw: listening ports, daemons, versions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Process names (comm) of the mail daemons; Postfix's master is recognised by its path.
DAEMONS = {"master": "postfix", "dovecot": "dovecot", "exim4": "exim", "exim": "exim"}
_LISTEN = "0A"


@dataclass(frozen=True)
class DaemonProcess:
    """A mail daemon's main process in the host's namespaces, and when it started (epoch seconds)."""

    service: str
    pid: int
    started_at: float | None
    command: str


@dataclass(frozen=True)
class UnitState:
    """A systemd unit as `systemctl show` reports it."""

    unit: str
    load_state: str | None
    active_state: str | None
    sub_state: str | None
    active_since: str | None
    main_pid: int | None

    @property
    def active(self) -> bool:
        return self.active_state == "active"


def listening_ports(proc_net_tcp: Iterable[str]) -> frozenset[int]:
    """TCP ports in LISTEN state from the text of /proc/net/tcp and /proc/net/tcp6."""
    ports: set[int] = set()
    for text in proc_net_tcp:
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 4 or parts[3] != _LISTEN:
                continue
            _, _, port_hex = parts[1].rpartition(":")
            try:
                ports.add(int(port_hex, 16))
            except ValueError:
                continue
    return frozenset(ports)


def daemon_process(
    comm: str, pid: int, raw: str, boot_time: int | None, clock_ticks: int | None
) -> DaemonProcess | None:
    """A daemon from its /proc/PID/stat line and command line; None for a `master` that is not Postfix's."""
    service = DAEMONS.get(comm)
    stat_line, _, command = raw.partition("\n")
    command = command.strip()
    if service is None or (comm == "master" and "postfix" not in command):
        return None
    return DaemonProcess(service, pid, _start_time(stat_line, boot_time, clock_ticks), command)


def _start_time(stat_line: str, boot_time: int | None, clock_ticks: int | None) -> float | None:
    # Field 22 (starttime, in clock ticks since boot) counted after the ")" that ends the command name.
    _, paren, rest = stat_line.rpartition(")")
    fields = rest.split()
    if not paren or len(fields) < 20 or boot_time is None or not clock_ticks:
        return None
    try:
        return boot_time + int(fields[19]) / clock_ticks
    except ValueError:
        return None


def main_daemons(processes: Iterable[DaemonProcess]) -> dict[str, DaemonProcess]:
    """The oldest process per service (the parent: Postfix master, Dovecot's main process, Exim's daemon)."""
    chosen: dict[str, DaemonProcess] = {}
    for process in processes:
        current = chosen.get(process.service)
        if current is None or (process.started_at or 0) < (current.started_at or 0):
            chosen[process.service] = process
    return chosen


def systemctl_units(text: str) -> dict[str, UnitState]:
    """Units from `systemctl show -p Id,LoadState,... UNIT...` (blocks separated by blank lines)."""
    units: dict[str, UnitState] = {}
    for block in re.split(r"\n\s*\n", text.strip()):
        values = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
        unit = values.get("Id")
        if not unit:
            continue
        pid_text = values.get("MainPID", "")
        units[unit] = UnitState(
            unit=unit,
            load_state=values.get("LoadState") or None,
            active_state=values.get("ActiveState") or None,
            sub_state=values.get("SubState") or None,
            active_since=values.get("ActiveEnterTimestamp") or None,
            main_pid=int(pid_text) if pid_text.isdigit() and pid_text != "0" else None,
        )
    return units


def postfix_version(text: str) -> str | None:
    value = text.strip()
    return value or None


def dovecot_version(text: str) -> str | None:
    words = text.split()
    return words[0] if words else None


def exim_version(text: str) -> str | None:
    match = re.search(r"Exim version (\S+)", text)
    return match.group(1) if match else None
