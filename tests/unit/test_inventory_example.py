"""The example inventory at the top of the checkout (`inventory/`, what `mailcert audit` and `fab audit`
read by default): it parses, and it says what `mailcert lab up --hosts 3` says about the same hosts, so
that it runs unchanged against that lab (tests/lab/test_inventory_example.py runs it)."""

from __future__ import annotations

from pathlib import Path

from mailcert.inventory import load_inventory
from mailcert.inventory.model import InventoryHost
from mailcert.lab.inventory import CA_BUNDLE, KNOWN_HOSTS, SSH_KEY, write_inventory
from mailcert.lab.lifecycle import host_list
from mailcert.lab.pebble import ACME_DIRECTORY

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "inventory"
CHECKOUT_LAB = REPO / "lab"  # where `mailcert lab up` run in the checkout puts its files
FILES = ("hosts.yml", "group_vars/all.yml", "host_vars/mx1.yml", "host_vars/mx2.yml", "host_vars/mx3.yml")
SAME_AS_LAB = ("port", "user", "become", "roles", "domains", "acme_server", "acme_email", "acme_mode")


def _names(host: InventoryHost) -> set[str]:
    """Every name the host's clients use, whether given as a list or per service."""
    return set(host.hostnames) | {n for names in host.service_hostnames.values() for n in names}


def _local(path: str | None) -> Path:
    assert path is not None
    return Path(path).resolve()


def test_the_example_has_the_files_the_readme_names_and_three_hosts_in_groups() -> None:
    for name in FILES:
        assert (EXAMPLE / name).is_file(), name
    inventory = load_inventory(EXAMPLE)
    assert [h.name for h in inventory.hosts] == ["mx1", "mx2", "mx3"]
    assert inventory.groups["mail"] == ("mx1", "mx2", "mx3")
    assert [h.name for h in inventory.select("mail")] == ["mx1", "mx2", "mx3"]
    mx3 = inventory.host("mx3")
    assert mx3.service_hostnames["imap"] == ("imap.mx3.mailcert.test",)  # the per-service form
    assert mx3.names_for("submission") == ("smtp.mx3.mailcert.test",)


def test_the_examples_paths_lead_to_the_files_lab_up_writes_in_the_checkout() -> None:
    for host in load_inventory(EXAMPLE).hosts:
        assert _local(host.private_key_file) == CHECKOUT_LAB / SSH_KEY
        assert _local(host.known_hosts) == CHECKOUT_LAB / KNOWN_HOSTS
        assert _local(host.ca_bundle) == CHECKOUT_LAB / CA_BUNDLE
        assert _local(host.acme_ca_bundle) == CHECKOUT_LAB / CA_BUNDLE


def test_the_example_describes_the_hosts_of_lab_up_with_three_hosts(tmp_path: Path) -> None:
    """Same addresses, login, names, domains, services, DNS server and ACME server as the inventory the
    lab writes: when the lab changes one of them, the example must follow."""
    write_inventory(tmp_path, host_list(tmp_path, 3, []), ACME_DIRECTORY)
    lab = {h.name: h for h in load_inventory(tmp_path / "inventory.yml").hosts}
    example = {h.name: h for h in load_inventory(EXAMPLE).hosts}
    assert example.keys() == lab.keys()
    for name, ours in example.items():
        theirs = lab[name]
        for attribute in SAME_AS_LAB:
            assert getattr(ours, attribute) == getattr(theirs, attribute), (name, attribute)
        # the lab also sets mailcert_probe_address to the same address; the example leaves it to ansible_host
        assert ours.address == theirs.address == theirs.probe_address, name
        assert ours.probe_address is None
        assert _names(ours) == _names(theirs), name
        assert ours.vars["mailcert_resolver"] == theirs.vars["mailcert_resolver"], name
        for attribute in ("private_key_file", "known_hosts", "ca_bundle", "acme_ca_bundle"):
            assert _local(getattr(ours, attribute)).name == _local(getattr(theirs, attribute)).name, attribute
