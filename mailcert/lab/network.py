"""The lab's one fixed address range: a bridge on the machine, one veth + network namespace per host.

Hosts get no default route: from inside a host only the lab range is reachable.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

from mailcert.lab import LabError
from mailcert.lab.procs import run

LAB_NETWORK = ipaddress.IPv4Network("10.213.0.0/24")
BRIDGE = "mcl-br0"
GATEWAY = ipaddress.IPv4Address("10.213.0.1")  # the machine's side: Pebble, DNS, the control node
FIRST_HOST = 11
MAX_HOSTS = 200
NETNS_PREFIX = "mailcert-"
VETH_PREFIX = "mcl-"


def host_address(index: int) -> str:
    """Address of the index-th host (0-based): 10.213.0.11, .12, ..."""
    if not 0 <= index < MAX_HOSTS:
        raise LabError(f"the lab holds at most {MAX_HOSTS} hosts")
    return str(LAB_NETWORK.network_address + FIRST_HOST + index)


def netns_name(host: str) -> str:
    return NETNS_PREFIX + host


def veth_name(host: str) -> str:
    name = VETH_PREFIX + host
    if len(name) > 15:  # IFNAMSIZ - 1
        raise LabError(f"host name {host!r} is too long for an interface name (at most 11 characters)")
    return name


def is_lab_address(address: str) -> bool:
    """True for the addresses the lab may send traffic to (its own range)."""
    try:
        return ipaddress.ip_address(address) in LAB_NETWORK
    except ValueError:
        return False


def range_users() -> list[str]:
    """Interfaces and routes on the machine that already use the lab's range (`dev: prefix`)."""
    users: list[str] = []
    for entry in json.loads(run(["ip", "-j", "-4", "addr", "show"], what="listing addresses") or "[]"):
        for addr in entry.get("addr_info", []):
            net = ipaddress.IPv4Network(f"{addr['local']}/{addr['prefixlen']}", strict=False)
            if net.overlaps(LAB_NETWORK):
                users.append(f"{entry['ifname']}: {addr['local']}/{addr['prefixlen']}")
    for route in json.loads(run(["ip", "-j", "-4", "route", "show"], what="listing routes") or "[]"):
        dst = route.get("dst", "")
        if dst in ("default", ""):
            continue
        if ipaddress.IPv4Network(dst, strict=False).overlaps(LAB_NETWORK):
            users.append(f"route {dst} dev {route.get('dev', '?')}")
    return sorted(set(users))


def create_bridge() -> None:
    run(["ip", "link", "add", BRIDGE, "type", "bridge"], what="creating the lab bridge")
    run(
        ["ip", "addr", "add", f"{GATEWAY}/{LAB_NETWORK.prefixlen}", "dev", BRIDGE],
        what="addressing the lab bridge",
    )
    run(["ip", "link", "set", BRIDGE, "up"], what="starting the lab bridge")


def create_host_network(host: str, address: str) -> None:
    """Network namespace + veth pair: `eth0` inside with the host's address, the other end on the bridge."""
    netns, veth = netns_name(host), veth_name(host)
    run(["ip", "netns", "add", netns], what=f"creating namespace {netns}")
    run(
        ["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns],
        what=f"creating veth {veth}",
    )
    run(["ip", "link", "set", veth, "master", BRIDGE, "up"], what=f"attaching {veth} to {BRIDGE}")
    inside = ["ip", "-n", netns]
    run(
        [*inside, "addr", "add", f"{address}/{LAB_NETWORK.prefixlen}", "dev", "eth0"],
        what=f"addressing {host}",
    )
    run([*inside, "link", "set", "eth0", "up"], what=f"starting eth0 in {host}")
    run([*inside, "link", "set", "lo", "up"], what=f"starting lo in {host}")


def existing_netns() -> set[str]:
    out = run(["ip", "-j", "netns", "list"], what="listing namespaces").strip()
    return {entry["name"] for entry in json.loads(out or "[]")}


def existing_links() -> set[str]:
    return {
        entry["ifname"]
        for entry in json.loads(run(["ip", "-j", "link", "show"], what="listing links") or "[]")
    }


def netns_pids(netns: str) -> list[int]:
    """Processes whose network namespace is this lab host's (identified by namespace, never by name)."""
    if not Path(f"/run/netns/{netns}").exists():
        return []
    out = run(["ip", "netns", "pids", netns], what=f"listing processes in {netns}")
    return [int(word) for word in out.split()]


def remove_host_network(host: str) -> None:
    netns, veth = netns_name(host), veth_name(host)
    if veth in existing_links():
        run(["ip", "link", "del", veth], what=f"removing veth {veth}")
    if netns in existing_netns():
        run(["ip", "netns", "del", netns], what=f"removing namespace {netns}")


def remove_bridge() -> None:
    if BRIDGE in existing_links():
        run(["ip", "link", "del", BRIDGE], what="removing the lab bridge")


def listeners_on_gateway() -> list[int]:
    """Pids with a TCP or UDP socket bound to the lab bridge address (Pebble, the mock DNS)."""
    out = run(["ss", "-Htulnp", "src", str(GATEWAY)], what="listing sockets on the lab bridge address")
    pids = {int(match) for match in re.findall(r"pid=(\d+)", out)}
    return sorted(pids)
