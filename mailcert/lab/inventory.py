"""What mailcert itself needs to use the lab: inventory.yml + host_vars/, SSH key, known_hosts, CA bundle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from mailcert.lab.dns import lab_resolver
from mailcert.lab.kinds import kind_named
from mailcert.lab.layout import ADMIN_USER, LabHost, host_public_keys, write_text
from mailcert.lab.procs import run

SSH_KEY = "id_ed25519"
KNOWN_HOSTS = "known_hosts"
CA_BUNDLE = "ca-bundle.pem"
INVENTORY = "inventory.yml"


def ensure_ssh_key(lab_dir: Path) -> str:
    """The lab's SSH key pair (made once, kept across `lab up` runs); returns the public key line."""
    key = lab_dir / SSH_KEY
    if not key.exists():
        run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mailcert-lab", "-f", str(key)],
            what="making the lab SSH key",
        )
    return key.with_suffix(".pub").read_text().strip()


# How the control side reaches a host's sshd when it is not directly (`lab up --delay`: a proxy address).
SshVia = Mapping[str, tuple[str, int]]


def write_known_hosts(lab_dir: Path, hosts: Sequence[LabHost], via: SshVia | None = None) -> None:
    """Each host's own keys under its address and names, and under `[ADDR]:PORT` of its proxy if any."""
    lines = []
    for host in hosts:
        names = ",".join([host.address, *host.hostnames])
        keys = host_public_keys(host)
        lines += [f"{names} {key}" for key in keys]
        if via and host.name in via:
            address, port = via[host.name]
            lines += [f"[{address}]:{port} {key}" for key in keys]
    write_text(lab_dir / KNOWN_HOSTS, "\n".join(lines) + "\n")


def write_ca_bundle(lab_dir: Path, roots: Sequence[bytes]) -> None:
    """Every root a lab client should trust: the lab CA root (hosts, Pebble's listener) and Pebble's root."""
    write_text(lab_dir / CA_BUNDLE, "".join(r.decode().strip() + "\n" for r in roots))


def inventory_data(
    lab_dir: Path, hosts: Sequence[LabHost], acme_server: str, via: SshVia | None = None
) -> dict[str, object]:
    bundle = str(lab_dir / CA_BUNDLE)
    groups: dict[str, dict[str, object]] = {}
    for host in hosts:
        group = host.kind.replace("-", "_")
        groups.setdefault(group, {"hosts": {}})
        hosts_of_group = groups[group]["hosts"]
        assert isinstance(hosts_of_group, dict)
        hosts_of_group[host.name] = None
    return {
        "all": {
            "vars": {
                "ansible_user": ADMIN_USER,
                "ansible_become": True,
                "ansible_ssh_private_key_file": str(lab_dir / SSH_KEY),
                "mailcert_known_hosts": str(lab_dir / KNOWN_HOSTS),
                "mailcert_ca_bundle": bundle,
                "mailcert_acme_server": acme_server,
                "mailcert_acme_ca_bundle": bundle,
                "mailcert_acme_email": "postmaster@mailcert.test",
                "mailcert_resolver": lab_resolver(),
            },
            "hosts": {host.name: _host_vars(host, via) for host in hosts},
            "children": groups,
        }
    }


def _host_vars(host: LabHost, via: SshVia | None) -> dict[str, object]:
    address, port = via[host.name] if via and host.name in via else (host.address, 22)
    names: dict[str, object] = {
        "mailcert_hostnames": list(host.hostnames),
        "mailcert_domains": [host.domain],  # served by the lab DNS (mailcert.lab.dns)
    }
    if host.kind == "cpanel":
        from mailcert.lab.kinds.cpanel import client_names

        # a cPanel server's clients use its hostname and mail.<each account's domain>; the lab DNS publishes
        # the postfix-style names of the host's domain, which a cPanel server does not serve
        names = {"mailcert_hostnames": client_names(host)}
    return {
        "ansible_host": address,
        **({"ansible_port": port} if port != 22 else {}),
        "mailcert_probe_address": host.address,
        **names,
    }


def write_inventory(
    lab_dir: Path, hosts: Sequence[LabHost], acme_server: str, via: SshVia | None = None
) -> Path:
    path = lab_dir / INVENTORY
    header = (
        "# The mailcert lab (written by `mailcert lab up`; removed by `mailcert lab down`).\n"
        "# Try: mailcert -I " + str(path) + " audit\n"
    )
    write_text(
        path, header + yaml.safe_dump(inventory_data(lab_dir, hosts, acme_server, via), sort_keys=False)
    )
    host_vars = lab_dir / "host_vars"
    host_vars.mkdir(exist_ok=True)
    for host in hosts:
        roles = [svc.name for svc in kind_named(host.kind).services]
        if host.kind == "cpanel":
            # without it fix would plan as for plain Exim/Dovecot and edit cPanel's files
            roles.append("cpanel")
        write_text(
            host_vars / f"{host.name}.yml",
            f"# {host.name}: a lab host of kind {host.kind}; files at {host.root}\n"
            + yaml.safe_dump({"mailcert_roles": roles}, sort_keys=False),
        )
    return path
