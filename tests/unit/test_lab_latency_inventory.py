"""`lab up --delay/--tarpit` without the lab: which proxy route each host gets, and what the inventory and
known_hosts then say (the proxy's address and port; the host's own keys under `[ADDR]:PORT`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mailcert.inventory import load_inventory
from mailcert.lab import LabError
from mailcert.lab.inventory import inventory_data, write_inventory, write_known_hosts
from mailcert.lab.latency import Route
from mailcert.lab.layout import LabHost
from mailcert.lab.lifecycle import host_list, parse_tarpits, proxy_routes


def _hosts(lab_dir: Path, count: int = 3) -> list[LabHost]:
    return host_list(lab_dir, count, ["postfix-dovecot"])


def test_each_host_gets_a_route_on_the_bridge_and_tarpits_their_mode(tmp_path: Path) -> None:
    hosts = _hosts(tmp_path)
    routes = proxy_routes(hosts, 50, parse_tarpits("mx2, mx3:trickle", [h.name for h in hosts]))
    assert routes == [
        Route("10.213.0.1", 22011, "10.213.0.11", 22, "delay", 50),
        Route("10.213.0.1", 22012, "10.213.0.12", 22, "stall", 50),
        Route("10.213.0.1", 22013, "10.213.0.13", 22, "trickle", 50),
    ]


@pytest.mark.parametrize(("text", "says"), [("mx9", "no lab host named 'mx9'"), ("mx1:slow", "stall")])
def test_a_bad_tarpit_is_one_lab_error(text: str, says: str) -> None:
    with pytest.raises(LabError, match=says):
        parse_tarpits(text, ["mx1", "mx2"])


def test_inventory_and_known_hosts_name_the_proxy(tmp_path: Path) -> None:
    hosts = _hosts(tmp_path, 2)
    for host in hosts:
        ssh = host.path("/etc/ssh")
        ssh.mkdir(parents=True)
        (ssh / "ssh_host_ed25519_key.pub").write_text(f"ssh-ed25519 AAAAkey{host.name} root@{host.name}\n")
    via = {"mx1": ("10.213.0.1", 22011), "mx2": ("10.213.0.1", 22012)}
    write_known_hosts(tmp_path, hosts, via)
    known = (tmp_path / "known_hosts").read_text().splitlines()
    assert "[10.213.0.1]:22011 ssh-ed25519 AAAAkeymx1" in known
    assert "[10.213.0.1]:22012 ssh-ed25519 AAAAkeymx2" in known
    assert any(line.startswith("10.213.0.11,") and line.endswith("AAAAkeymx1") for line in known)

    write_inventory(tmp_path, hosts, "https://10.213.0.1:14000/dir", via)
    inventory = {h.name: h for h in load_inventory(tmp_path / "inventory.yml").select(None)}
    assert (inventory["mx2"].address, inventory["mx2"].port) == ("10.213.0.1", 22012)
    assert inventory["mx2"].probe_address == "10.213.0.12"  # mail ports are probed directly


def test_without_a_proxy_the_inventory_is_as_before(tmp_path: Path) -> None:
    data = inventory_data(tmp_path, _hosts(tmp_path, 1), "https://10.213.0.1:14000/dir")
    all_group = data["all"]
    assert isinstance(all_group, dict)
    mx1 = all_group["hosts"]["mx1"]
    assert (mx1["ansible_host"], mx1["mailcert_probe_address"]) == ("10.213.0.11", "10.213.0.11")
    assert "ansible_port" not in mx1
    assert yaml.safe_dump(data)


def test_a_cpanel_lab_host_is_listed_with_the_names_its_clients_use(tmp_path: Path) -> None:
    from mailcert.lab.inventory import inventory_data
    from mailcert.lab.layout import LabHost

    host = LabHost("mx1", "cpanel", "10.213.0.11", tmp_path)
    data = inventory_data(tmp_path, [host], "https://10.213.0.1:14000/dir")
    listed = data["all"]["hosts"]["mx1"]  # type: ignore[index]
    # the server's hostname, then mail.<domain> of the simulator's two accounts (alpha, beta)
    assert listed["mailcert_hostnames"] == [
        "mail.mx1.mailcert.test",
        "mail.alpha.mx1.mailcert.test",
        "mail.beta.mx1.mailcert.test",
    ]
    assert "mailcert_domains" not in listed  # the lab DNS publishes postfix-style names cPanel does not serve
