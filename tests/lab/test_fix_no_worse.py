"""Issue 18, point 1, on real daemons: a lineage's files were replaced through certbot's live/ links by a
self-signed certificate without a SAN while Postfix and Dovecot still serve the good one (tls.stale).
`fix -y` must leave no (port, name) verifying worse than before — as Python's ssl and `openssl s_client`
judge it — and a second `fix --dry-run` plans nothing (or only says why it waits).

mx1 cannot have a certificate issued (no ACME contact): the plan must hold its reloads and say why.
mx2 can: the plan re-issues the lineage first, then reloads."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.lab.clients import IMPLICIT, PROTOCOL, verify
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import fix_inventory
from tests.lab.test_fix_cli import last_json, mailcert

HOSTS = ("mx1", "mx2")
NO_ACME = "mx1"
PORTS = sorted(PROTOCOL)  # 25, 110, 143, 465, 587, 993, 995: Postfix and Dovecot on a postfix-dovecot host

Pair = tuple[str, int, str]  # host, port, client name


def replace_through_live(lab: Lab, name: str) -> None:
    """Overwrite the files live/ points at (archive/) with a self-signed, SAN-less certificate and its key;
    owners and modes stay (the files are written in place). Nothing is reloaded."""
    host = lab.host(name)
    lab.changed(name)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host.fqdn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    live = f"/etc/letsencrypt/live/{host.lineage}"
    for file in ("cert.pem", "fullchain.pem"):
        assert host.path(f"{live}/{file}").is_symlink()
        host.path(f"{live}/{file}").write_bytes(pem)
    host.path(f"{live}/privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


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
    assert all(ok == (True, True) for ok in before.values()), before  # the daemons still serve the good one
    inventory = fix_inventory(lab, tmp_path)
    with (tmp_path / "host_vars" / f"{NO_ACME}.yml").open("a") as handle:
        handle.write('mailcert_acme_email: ""\n')

    done = mailcert("-I", str(inventory), "fix", "--limit", ",".join(HOSTS), "-y", "--format", "json")

    report = last_json(done.stdout)
    after = verdicts(lab)
    worse = {pair: (before[pair], after[pair]) for pair in before if after[pair] < before[pair]}
    assert worse == {}, done.stderr[-3000:]
    hosts = {h["name"]: h for h in report["hosts"]}
    for name in HOSTS:
        pairs = hosts[name]["endpoints_after"]
        assert len(pairs) == 28
        assert not any(p["worse"] for p in pairs), [p for p in pairs if p["worse"]]
    held = [e["description"] for e in report["plan"] if e["host"] == NO_ACME and e["kind"] == "unfixable"]
    assert any(d.startswith("dovecot: not reloaded — it would then serve ") for d in held), held
    assert any(d.startswith("postfix: not reloaded — it would then serve ") for d in held), held
    assert not [e for e in report["plan"] if e["host"] == NO_ACME and e["kind"] == "reload"]
    issued = [e for e in report["plan"] if e["host"] == "mx2" and e["kind"] == "issue"]
    assert [e["outcome"] for e in issued] == ["applied"], report["plan"]

    again = mailcert("-I", str(inventory), "fix", "--limit", ",".join(HOSTS), "--dry-run", "--format", "json")

    planned = [e for e in last_json(again.stdout)["plan"] if e["kind"] not in ("unfixable",)]
    assert planned == [], planned
    assert verdicts(lab) == after
