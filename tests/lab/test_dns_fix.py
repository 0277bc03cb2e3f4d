"""DNS in the lab end to end, through the CLI and the lab's own inventory: a healthy lab domain audits clean
with the endpoints DNS advertises listed; `fix` renews keeping the key while TLSA pins it; stale TLSA in a
zone without DNSSEC does not hold back adding names (the plan lists the record to publish)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from mailcert.lab.dns import host_spki, publish
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import fix_inventory
from tests.lab.test_fix_cli import last_json, mailcert

pytestmark = pytest.mark.lab

HOST = "mx1"


@pytest.fixture
def dns_reset(lab: Lab) -> Iterator[Lab]:
    """The lab; DNS faults planted by the test are removed after it."""
    yield lab
    publish(lab.dir, {})


def host_report(stdout: str) -> dict[str, Any]:
    (host,) = [h for h in last_json(stdout)["hosts"] if h["name"] == HOST]
    return host  # type: ignore[no-any-return]


def checks(host: dict[str, Any]) -> set[str]:
    return {f["check"] for f in host["findings"] if f["severity"] in ("critical", "warning")}


def test_healthy_lab_domain_audits_clean_and_lists_what_dns_advertises(lab: Lab) -> None:
    done = mailcert("-I", str(lab.inventory), "audit", "--limit", HOST, "--format", "json")

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    host = host_report(done.stdout)
    assert host["status"] == "ok" and checks(host) == set()
    domain = lab.host(HOST).domain
    advertised = {(e["port"], tuple(e["hostnames"])): e.get("advertised_by", []) for e in host["endpoints"]}
    smtp = next(e for e in host["endpoints"] if e["port"] == 25)
    assert f"MX of {domain}" in smtp["advertised_by"] and smtp["configured"]["cert_file"]  # merged, not added
    imaps = next(sources for (port, _), sources in advertised.items() if port == 993)
    assert f"SRV _imaps._tcp.{domain}" in imaps
    assert any(s.startswith("autoconfig https://") for s in imaps)


def test_fix_renews_keeping_the_key_tlsa_pins(lab: Lab, tmp_path: Path) -> None:
    lab.plant(HOST, "expired")  # the lab zone publishes `3 1 1` for the key in the host's lineage
    pinned = host_spki(lab.host(HOST))
    inventory = str(fix_inventory(lab, tmp_path))

    done = mailcert("-I", inventory, "audit", "--limit", HOST, "fix", "-y", "--format", "json")

    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-2000:]
    lab.changed(HOST)
    (issue,) = [e for e in last_json(done.stdout)["plan"] if e["kind"] == "issue"]
    assert "--reuse-key" in issue["command"] and issue["outcome"] == "applied", issue
    assert host_spki(lab.host(HOST)) == pinned  # a new certificate, the same key
    assert lab.disk_leaf(HOST).not_valid_after_utc > lab.disk_leaf(HOST).not_valid_before_utc
    after = host_report(done.stdout)
    assert "dns.tlsa-mismatch" not in checks(after) and "cert.expired" not in checks(after)


def test_stale_unsigned_tlsa_no_longer_blocks_adding_imap_and_pop(dns_reset: Lab, tmp_path: Path) -> None:
    """Issue 18 (6): the certificate lacks smtp./imap./pop. and DNS pins, at _25._tcp, a key the host no longer
    serves, in a zone without DNSSEC (dnsmasq sets no AD). The expansion runs, keeping the key the _993 record
    pins, and the plan names the `3 1 1` record to publish for _25."""
    lab = dns_reset
    lab.plant(HOST, "name-mismatch")  # issued for mail.<domain> only; the zone pins its key at _993
    publish(lab.dir, {HOST: ["tlsa-old-key"]})  # _25 pins a key the host no longer has
    domain = lab.host(HOST).domain
    key = host_spki(lab.host(HOST))
    record = f"_25._tcp.mail.{domain}. IN TLSA 3 1 1 {hashlib.sha256(key).hexdigest()}"
    inventory = str(fix_inventory(lab, tmp_path))

    done = mailcert("-I", inventory, "fix", "--limit", HOST, "-y", "--format", "json")

    lab.changed(HOST)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-2000:]
    plan = last_json(done.stdout)["plan"]
    assert not [e for e in plan if e["description"].startswith("dane: waiting")]
    (issue,) = [e for e in plan if e["kind"] == "issue"]
    assert "--expand" in issue["command"] and "--reuse-key" in issue["command"], issue
    assert issue["outcome"] == "applied", issue
    for name in ("smtp", "imap", "pop"):
        assert f"-d {name}.{domain}" in issue["command"]
    (line,) = [e["description"] for e in plan if e["description"].startswith("dane: publish")]
    assert f"`{record}`" in line and "advisory" in line
    (stale,) = [e["description"] for e in plan if e["description"].startswith("dane: stale")]
    assert f"_25._tcp.mail.{domain}" in stale and f"_993._tcp.imap.{domain}" not in stale
    assert host_spki(lab.host(HOST)) == key  # the key the _993 record pins was kept
    assert "cert.name-mismatch" not in checks(host_report(done.stdout))


def test_a_name_that_does_not_resolve_is_named_up_front_and_the_rest_is_fixed(
    lab: Lab, tmp_path: Path
) -> None:
    """Issue 18 (7): mailcert_hostnames lists webmail.<domain>, which the lab DNS does not know, and 587 speaks
    implicit TLS. The plan names webmail. before anything runs; certbot gets the four good names (and
    succeeds), and the master.cf fix for 587 is applied."""
    lab.plant(HOST, "name-mismatch")  # the lineage covers mail. only: the plan expands it
    lab.plant(HOST, "wrong-mode-587")
    domain = lab.host(HOST).domain
    good = [f"{p}.{domain}" for p in ("mail", "smtp", "imap", "pop")]
    bad = f"webmail.{domain}"
    inventory = fix_inventory(lab, tmp_path)
    data = yaml.safe_load(inventory.read_text())
    data["all"]["hosts"][HOST]["mailcert_hostnames"] = [*good, bad]
    inventory.write_text(yaml.safe_dump(data))

    done = mailcert("-I", str(inventory), "fix", "--limit", HOST, "-y", "--format", "json")

    lab.changed(HOST)
    # exit 2: webmail. is still a name clients are told to use and the certificate cannot cover it
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-2000:]
    plan = last_json(done.stdout)["plan"]
    (named,) = [e["description"] for e in plan if e["description"].startswith(f"acme: {bad} ")]
    assert "cannot be validated" in named and "it does not resolve (NXDOMAIN" in named
    assert f"certbot is asked for {', '.join(good)} without it" in named
    (issue,) = [e for e in plan if e["kind"] == "issue"]
    assert issue["outcome"] == "applied", issue
    assert bad not in issue["command"] and all(f"-d {n}" in issue["command"] for n in good)
    (mode,) = [e for e in plan if "config.mode-mismatch postfix:587" in e.get("removes", [])]
    assert mode["outcome"] == "applied", mode
    sans = lab.disk_leaf(HOST).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == set(good)
    after = host_report(done.stdout)
    assert "config.mode-mismatch" not in checks(after)
    critical = [f["message"] for f in after["findings"] if f["severity"] == "critical"]
    assert critical and all(bad in message for message in critical), critical
