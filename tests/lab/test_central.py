"""Central issuance on a real lab host: key and CSR made on the host, certbot + certbot-dns-rfc2136 on
this (control) machine against a Pebble that validates DNS-01 through the lab's BIND, certificate and
chain installed through the switch. Port 80 of the host is closed, so DNS-01 is what made it work.

The key never reaches the control side: every byte the SSH execs returned and every file in the control
state folder is searched for the host key's secret forms (PEM lines, DER, private numbers).
Each failure (wrong TSIG secret, a key refused the update, Pebble down) leaves the host's /etc
byte-identical, with one line saying why."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mailcert.fix import apply_remote
from mailcert.fix.apply import HostApplied, apply_host, new_run_id
from mailcert.fix.model import ChangeKind, Outcome
from mailcert.inventory import InventoryHost, load_inventory
from mailcert.lab.kinds.postfix import MAIN_CF
from mailcert.model import HostReport
from mailcert.ssh import RemoteOutput
from mailcert.tasks.audit_host import AuditSettings, HostAudit, audit_host
from mailcert.tasks.fix import _plan
from tests.lab.central import CentralACME
from tests.lab.fixture import Lab

HOST = "mx1"
STATE_DIR = "/etc/mailcert-state"


def write_inventory(lab: Lab, acme: CentralACME, folder: Path, **extra: object) -> Path:
    """The lab's inventory with central mode: Pebble via BIND, credentials file, own control state."""
    folder.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(lab.inventory.read_text())
    shutil.copytree(lab.dir / "host_vars", folder / "host_vars", dirs_exist_ok=True)
    data["all"]["vars"].update(
        {
            "mailcert_state_dir": STATE_DIR,
            "mailcert_acme_mode": "central",
            "mailcert_acme_challenge": "dns-rfc2136",
            "mailcert_acme_server": acme.directory,
            "mailcert_acme_dns_credentials": str(acme.bind.credentials("acme")),
            "mailcert_acme_dns_propagation_seconds": 1,
            "mailcert_central_state_dir": str(folder / "control"),
            "mailcert_ca_bundle": str(acme.ca_bundle),
            "mailcert_acme_ca_bundle": str(acme.ca_bundle),
            **extra,
        }
    )
    path = folder / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def settings() -> AuditSettings:
    return AuditSettings(now=datetime.now(UTC))


def recheck(host: InventoryHost) -> HostReport:
    return audit_host(host, settings()).report


def etc_tree(lab: Lab) -> dict[str, str]:
    """sha256 + mode of every file and folder under the host's /etc but mailcert's state folder."""
    root = lab.host(HOST).path("/etc")
    shot = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.startswith("mailcert-state") or path.is_symlink():
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        shot[rel] = f"{digest} {path.stat().st_mode:o}"
    return shot


def secret_forms(pem: bytes) -> list[bytes]:
    """The forms a private key could travel in: PEM body lines, DER (raw and hex), private numbers."""
    key = serialization.load_pem_private_key(pem, None)
    forms = [line for line in pem.splitlines() if line and not line.startswith(b"-----") and len(line) > 20]
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        der = key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        forms += [der[-32:], der[-32:].hex().encode()]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        value = key.private_numbers().private_value
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        value = key.private_numbers().d
    forms += [format(value, "x").encode(), str(value).encode()]
    return forms


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Everything the control side receives from the hosts' root execs (stdout and stderr)."""
    got: list[bytes] = []
    real = apply_remote._exec

    def recording(conn: object, command: str, stdin: bytes, timeout: int) -> RemoteOutput:
        output = real(conn, command, stdin, timeout)  # type: ignore[arg-type]
        got.extend([output.stdout.encode(), output.stderr.encode()])
        return output

    monkeypatch.setattr(apply_remote, "_exec", recording)
    return got


@pytest.fixture
def mx1(lab: Lab) -> Iterator[Lab]:
    lab.changed(HOST)
    yield lab
    shutil.rmtree(lab.host(HOST).path("/etc/mailcert"), ignore_errors=True)


def fix_once(inventory: Path) -> tuple[HostAudit, HostApplied]:
    host = load_inventory(str(inventory)).host(HOST)
    audit = audit_host(host, settings())
    plan = _plan(audit, settings(), False, {})
    assert plan.error is None, plan.error
    result = apply_host(host, plan, run_id=new_run_id(), before=audit.report, recheck=recheck)
    return audit, result


def port_80_closed(lab: Lab) -> bool:
    said = lab.exec(HOST, "ss", "-Hltn", "sport = :80")
    return said.returncode == 0 and said.stdout.strip() == ""


def test_central_issues_and_installs_with_port_80_closed_and_the_key_stays_on_the_host(
    mx1: Lab, central_acme: CentralACME, tmp_path: Path, received: list[bytes]
) -> None:
    lab = mx1
    lab.plant(HOST, "expired")
    assert port_80_closed(lab)
    inventory = write_inventory(lab, central_acme, tmp_path)

    audit, result = fix_once(inventory)

    assert "cert.expired" in {f.check for f in audit.report.findings}
    kinds = [c.kind for c in result.plan.changes]
    assert ChangeKind.ISSUE in kinds, result.plan
    assert all(c.outcome is Outcome.APPLIED for c in result.plan.changes), result.message
    name = lab.host(HOST).fqdn
    live = lab.host(HOST).path(f"/etc/mailcert/live/{name}")
    leaf = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    key_pem = (live / "privkey.pem").read_bytes()
    key = serialization.load_pem_private_key(key_pem, None)
    assert leaf.public_key() == key.public_key()
    assert (live / "privkey.pem").stat().st_mode & 0o777 == 0o600
    sans = set(
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    )
    assert sans == set(lab.host(HOST).hostnames)
    assert f"/etc/mailcert/live/{name}/fullchain.pem" in lab.host(HOST).path(MAIN_CF).read_text()
    assert result.after is not None
    assert not [f for f in result.after.findings if f.severity.value == "critical"], result.after.findings
    served = [e.served for e in result.after.endpoints if e.served is not None]
    fingerprint = leaf.fingerprint(hashes.SHA256()).hex()
    assert served and all(s.sha256 == fingerprint for s in served)
    control = tmp_path / "control"
    log = (control / "logs" / "letsencrypt.log").read_text()
    assert "dns-01" in log and "http-01" not in log.split("Performing the following challenges")[-1][:300]
    assert port_80_closed(lab)
    # the key never reached the control side
    forms = secret_forms(key_pem)
    assert received, "nothing was recorded"
    for blob in received:
        assert not any(form in blob for form in forms)
    tsig = central_acme.bind.keys["acme"].encode()
    for path in control.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(form in data for form in forms), path
            assert tsig not in data, path  # the TSIG secret is in no log, CSR or certificate file
    assert not list(lab.host(HOST).path(f"{STATE_DIR}/central").glob("*.key"))  # staged key consumed
    # a second fix plans nothing
    again = _plan(audit_host(load_inventory(str(inventory)).host(HOST), settings()), settings(), False, {})
    assert again.error is None and again.empty, again


@pytest.mark.parametrize(
    ("why", "extra", "said"),
    [
        ("wrong-tsig", {"credentials": "wrong"}, "rejected the TSIG key"),
        ("update-refused", {"credentials": "denied"}, "refused the update"),
        (
            "pebble-down",
            {"mailcert_acme_server": "https://10.213.0.1:14009/dir"},
            "cannot reach the ACME server",
        ),
    ],
)
def test_central_failures_leave_the_host_byte_identical(
    mx1: Lab, central_acme: CentralACME, tmp_path: Path, why: str, extra: dict[str, str], said: str
) -> None:
    lab = mx1
    lab.plant(HOST, "expired")
    vars_: dict[str, object] = dict(extra)
    role = vars_.pop("credentials", None)
    if role:
        vars_["mailcert_acme_dns_credentials"] = str(central_acme.bind.credentials(str(role)))
    inventory = write_inventory(lab, central_acme, tmp_path, **vars_)
    before = etc_tree(lab)

    _, result = fix_once(inventory)

    assert result.message is not None and said in result.message, result.message
    assert "\n" not in result.message
    for role_name in ("acme", "denied", "wrong"):
        assert central_acme.bind.keys[role_name] not in result.message
    issue = next(c for c in result.plan.changes if c.kind is ChangeKind.ISSUE)
    assert issue.outcome is Outcome.FAILED
    assert all(c.outcome is Outcome.SKIPPED for c in result.plan.changes if c is not issue)
    assert etc_tree(lab) == before
    assert not list(lab.host(HOST).path(f"{STATE_DIR}/central").glob("*.key"))


def mailcert_cli(*args: str) -> subprocess.CompletedProcess[str]:
    program = Path(sys.executable).with_name("mailcert")
    return subprocess.run(
        [str(program), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
        check=False,
    )


def test_verify_renew_renews_inside_the_window_only_and_keeps_the_key_when_told(
    mx1: Lab, central_acme: CentralACME, tmp_path: Path
) -> None:
    lab = mx1
    lab.plant(HOST, "expired")
    inventory = write_inventory(lab, central_acme, tmp_path, mailcert_reuse_key=True)
    _, result = fix_once(inventory)
    assert all(c.outcome is Outcome.APPLIED for c in result.plan.changes), result.message
    live = lab.host(HOST).path(f"/etc/mailcert/live/{lab.host(HOST).fqdn}")
    first = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    key_before = (live / "privkey.pem").read_bytes()

    outside = mailcert_cli("verify", "--renew", "-I", str(inventory), "--limit", HOST)
    assert "renewed" not in outside.stderr, outside.stderr
    assert (live / "cert.pem").read_bytes() == first.public_bytes(serialization.Encoding.PEM)

    at = (first.not_valid_after_utc - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    inside = mailcert_cli("verify", "--renew", "--at", at, "-I", str(inventory), "--limit", HOST)
    assert f"renew: {HOST}: renewed central certificate {lab.host(HOST).fqdn} (key kept)" in inside.stderr, (
        inside.stdout + inside.stderr
    )
    assert inside.returncode in (0, 1, 2) and "central renewal failed" not in inside.stdout, inside.stdout
    second = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    assert second.serial_number != first.serial_number
    assert second.not_valid_after_utc > first.not_valid_after_utc - timedelta(days=1)
    assert (live / "privkey.pem").read_bytes() == key_before
    served = recheck(load_inventory(str(inventory)).host(HOST))
    fingerprint = second.fingerprint(hashes.SHA256()).hex()
    assert all(e.served.sha256 == fingerprint for e in served.endpoints if e.served is not None)
