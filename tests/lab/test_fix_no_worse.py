"""Issue 18, point 1, on real daemons: a lineage's files were replaced through certbot's live/ links by a
self-signed certificate without a SAN. Postfix serves it at once (each new smtpd reads the files; the test
makes that certain with a `postfix reload`), Dovecot still serves the good one (tls.stale). `fix -y` must leave
no (port, name) verifying worse than before — as Python's ssl and `openssl s_client` judge it — and a second
`fix --dry-run` plans nothing (or only says why it waits).

mx1 cannot have a certificate issued (no ACME contact): the plan must not reload Dovecot, and say why.
mx2 can: the plan re-issues the lineage first, then reloads."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mailcert.fix.apply.host import apply_host, new_run_id
from mailcert.fix.model import HostPlan, Outcome
from mailcert.inventory import InventoryHost, load_inventory
from mailcert.lab.kinds.dovecot import SSL_CONF
from mailcert.lab.pki import self_signed
from mailcert.model import HostReport, Severity
from tests.lab.clients import IMPLICIT, PROTOCOL, verify
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import edit, fix_inventory, inventory_host, recheck, reload
from tests.lab.test_fix_cli import last_json, mailcert

HOSTS = ("mx1", "mx2")
NO_ACME = "mx1"
POSTFIX = (25, 465, 587)
PORTS = sorted(PROTOCOL)  # 25, 110, 143, 465, 587, 993, 995: Postfix and Dovecot on a postfix-dovecot host

Pair = tuple[str, int, str]  # host, port, client name


def replace_through_live(lab: Lab, name: str) -> None:
    """Overwrite the certificate files live/ points at (archive/) with a self-signed, SAN-less certificate
    for the lineage's own key (the key, and so the published TLSA records, stay); owners and modes stay (the
    files are written in place). Postfix is reloaded (its next smtpd processes would read the files
    anyway); Dovecot is not."""
    host = lab.host(name)
    lab.changed(name)
    live = f"/etc/letsencrypt/live/{host.lineage}"
    key = serialization.load_pem_private_key(host.path(f"{live}/privkey.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    cert = self_signed([host.fqdn], key, dt.datetime.now(dt.UTC), with_san=False)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    for file in ("cert.pem", "fullchain.pem"):
        assert host.path(f"{live}/{file}").is_symlink()
        host.path(f"{live}/{file}").write_bytes(pem)
    assert lab.exec(name, "postfix", "reload").returncode == 0
    cafile = str(lab.ca_bundle)
    deadline = time.monotonic() + 20  # idle smtpd processes of before the reload exit
    while any(verify(host.address, port, host.fqdn, cafile).ok for port in POSTFIX):
        assert time.monotonic() < deadline, f"{name}: Postfix still serves the good certificate"
        time.sleep(0.5)


def s_client_verifies(address: str, port: int, servername: str, cafile: str) -> bool:
    """`openssl s_client` trusting only the lab's roots, checking the name, failing on a verify error."""
    argv = ["openssl", "s_client", "-connect", f"{address}:{port}", "-servername", servername]
    argv += ["-CAfile", cafile, "-verify_hostname", servername, "-verify_return_error"]
    if port not in IMPLICIT:
        argv += ["-starttls", PROTOCOL[port]]
    done = subprocess.run(argv, input="", capture_output=True, text=True, timeout=20, check=False)
    return "Verify return code: 0 (ok)" in done.stdout


def verdicts(lab: Lab) -> dict[Pair, tuple[bool, bool]]:
    """Per (host, port, name): (Python ssl verifies, openssl s_client verifies)."""
    cafile = str(lab.ca_bundle)
    seen = {}
    for name in HOSTS:
        host = lab.host(name)
        for port in PORTS:
            for client_name in host.hostnames:
                seen[(name, port, client_name)] = (
                    verify(host.address, port, client_name, cafile).ok,
                    s_client_verifies(host.address, port, client_name, cafile),
                )
    return seen


def test_fix_never_makes_a_port_and_name_worse_after_live_files_were_replaced(
    lab: Lab, tmp_path: Path
) -> None:
    for name in HOSTS:
        replace_through_live(lab, name)
    before = verdicts(lab)
    assert len(before) == 2 * 7 * 4
    for (_, port, _), ok in before.items():  # Postfix serves the self-signed one, Dovecot the good one
        assert ok == ((False, False) if port in POSTFIX else (True, True)), before
    inventory = fix_inventory(lab, tmp_path)
    with (tmp_path / "host_vars" / f"{NO_ACME}.yml").open("a") as handle:
        handle.write('mailcert_acme_email: ""\n')

    done = mailcert("-I", str(inventory), "fix", "--limit", ",".join(HOSTS), "-y", "--format", "json")

    report = last_json(done.stdout)
    after = verdicts(lab)
    worse = {  # a client that verified before and does not now
        pair: (before[pair], after[pair])
        for pair in before
        if any(was and not now for was, now in zip(before[pair], after[pair], strict=True))
    }
    assert worse == {}, done.stderr[-3000:]
    hosts = {h["name"]: h for h in report["hosts"]}
    for name in HOSTS:
        pairs = hosts[name]["endpoints_after"]
        assert len(pairs) == 28
        assert not any(p["worse"] for p in pairs), [p for p in pairs if p["worse"]]
    held = [e["description"] for e in report["plan"] if e["host"] == NO_ACME and e["kind"] == "unfixable"]
    assert any(d.startswith("dovecot: not reloaded — it would then serve ") for d in held), held
    assert any("on 16 (port, name): " in d for d in held), held
    assert not [e for e in report["plan"] if e["host"] == NO_ACME and e["kind"] == "reload"]
    issued = [e for e in report["plan"] if e["host"] == "mx2" and e["kind"] == "issue"]
    assert [e["outcome"] for e in issued] == ["applied"], [e for e in report["plan"] if e["host"] == "mx2"]

    again = mailcert("-I", str(inventory), "fix", "--limit", ",".join(HOSTS), "--dry-run", "--format", "json")

    planned = [e for e in last_json(again.stdout)["plan"] if e["kind"] not in ("unfixable",)]
    assert planned == [], planned
    assert verdicts(lab) == after
    assert all(
        after[(NO_ACME, port, n)] == (True, True)
        for (h, port, n) in after
        if h == NO_ACME and port not in POSTFIX
    )
    assert all(ok == (True, True) for (h, _, _), ok in after.items() if h != NO_ACME)  # re-issued, reloaded


def critical_keys(report: HostReport) -> set[tuple[object, ...]]:
    return {
        (f.check, f.service, f.port, f.hostname) for f in report.findings if f.severity is Severity.CRITICAL
    }


def without_dns_checks(lab: Lab, folder: Path, name: str) -> InventoryHost:
    """The host without mailcert_domains: the DNS stage, which would add check IDs of its own (SRV and
    name checks of the advertised endpoints), does not run; what is left to see a regression is the
    per-(port, name) comparison."""
    inventory_host(lab, folder, name)  # writes the inventory copy
    with (folder / "host_vars" / f"{name}.yml").open("a") as handle:
        handle.write("mailcert_domains: []\n")
    host = load_inventory(str(folder / "inventory.yml")).host(name)
    assert host.domains == ()
    return host


def test_a_switch_that_makes_pairs_worse_without_a_new_check_id_is_restored(lab: Lab, tmp_path: Path) -> None:
    """The plan of the issue, by hand, on two hosts whose lineage was replaced: `reload dovecot` (with a
    harmless edit of its config on mx3, alone on mx1). The re-probe finds no critical check ID the audit had
    not (lint already reported the files' cert.self-signed/no-san), but 16 (port, name) that verified no
    longer do: mx3 is restored, and the reason names each pair. mx1's run wrote no file: nothing can be
    restored, and the report says so instead of claiming a rollback."""
    for name in ("mx3", "mx1"):
        replace_through_live(lab, name)
    mx3, mx1 = (without_dns_checks(lab, tmp_path / name, name) for name in ("mx3", "mx1"))
    text = lab.host("mx3").path(SSL_CONF).read_text()
    edited = edit(SSL_CONF, text, text + "# checked by mailcert\n")
    before = recheck(mx3)

    result = apply_host(
        mx3, HostPlan("mx3", (edited, reload("dovecot"))), run_id=new_run_id(), before=before, recheck=recheck
    )

    assert result.after is not None, result.message
    assert critical_keys(result.after) <= critical_keys(before)  # the old comparison saw nothing new
    assert [c.outcome for c in result.plan.changes] == [Outcome.ROLLED_BACK, Outcome.ROLLED_BACK]
    assert result.message is not None
    assert result.message.startswith("worse for clients on 16 (port, name): "), result.message
    for port in (110, 143, 993, 995):
        for client_name in lab.host("mx3").hostnames:
            assert f"{client_name}:{port} ok → fails (cert." in result.message
    assert lab.host("mx3").path(SSL_CONF).read_text() == text

    before = recheck(mx1)

    alone = apply_host(
        mx1, HostPlan("mx1", (reload("dovecot"),)), run_id=new_run_id(), before=before, recheck=recheck
    )

    assert [c.outcome for c in alone.plan.changes] == [Outcome.FAILED]
    assert alone.message is not None and alone.message.startswith("worse for clients on 16 (port, name): ")
    assert "; nothing to restore: the switch wrote no file" in alone.message
