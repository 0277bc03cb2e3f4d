"""Central issuance on a real lab host: key and CSR made on the host, certbot + certbot-dns-rfc2136 on
this (control) machine against a Pebble that validates DNS-01 through the lab's BIND, certificate and
chain installed through the switch. Port 80 of the host is closed, so DNS-01 is what made it work.

The key never reaches the control side: every byte the SSH execs returned and every file in the control
state folder is searched for the host key's secret forms (PEM lines, DER, private numbers).
Each failure (wrong TSIG secret, a key refused the update, Pebble down) leaves the host's /etc
byte-identical, with one line saying why. On a Debian 12 host and on a Debian 13 host, same expectations."""

from __future__ import annotations

import base64
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

from mailcert.audit.host import AuditSettings, HostAudit, audit_host
from mailcert.fix import remote as apply_remote
from mailcert.fix.apply.host import HostApplied, apply_host, new_run_id
from mailcert.fix.apply.rollback import rollback_host
from mailcert.fix.model import ChangeKind, Outcome
from mailcert.fix.plan.host import plan_audited_host
from mailcert.inventory import InventoryHost, load_inventory
from mailcert.lab.kinds.postfix import MAIN_CF
from mailcert.model import HostReport
from mailcert.ssh import RemoteOutput
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


def private_parts(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> list[int]:
    """The numbers only the key's owner knows (what the certificate and CSR also carry is left out)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return [key.private_numbers().private_value]
    n = key.private_numbers()
    return [n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp]


def secret_forms(pem: bytes) -> list[bytes]:
    """The forms a private key could travel in: its PEM body lines (PKCS#8 and traditional), its secret
    numbers as raw bytes, hex and decimal.

    Only lines that carry secret bytes count. A PEM line made only of public-key bytes (the last line of
    a P-256 key) is not a secret: certbot logs the CSR as one base64url string, and that line is in it
    whenever the public key sits at the same offset modulo 3 (about one key in seven here)."""
    key = serialization.load_pem_private_key(pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    secrets = [value.to_bytes((value.bit_length() + 7) // 8, "big") for value in private_parts(key)]
    forms: list[bytes] = []
    for value, raw in zip(private_parts(key), secrets, strict=True):
        forms += [raw, raw.hex().encode(), format(value, "x").encode(), str(value).encode()]
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        der = key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        spans = [(der.index(raw), der.index(raw) + len(raw)) for raw in secrets]
        body = base64.b64encode(der)
        for start in range(0, len(body), 64):  # a PEM line: 64 characters = 48 bytes of DER
            first, last = start // 4 * 3, (start + 64) // 4 * 3
            if any(first < end and begin < last for begin, end in spans):
                forms.append(body[start : start + 64])
    return forms


@pytest.mark.parametrize("kind", ["p256", "rsa2048"])
def test_secret_forms_catch_the_key_and_not_what_the_csr_shows(kind: str) -> None:
    """The search below must find the key in any of its encodings, and must not cry wolf on the CSR,
    which carries the public key: certbot logs it as one base64 string, at any alignment."""
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "p256" else rsa.generate_private_key(65537, 2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forms = secret_forms(pem)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "mx1.example")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    der = csr.public_bytes(serialization.Encoding.DER)
    shown = [csr.public_bytes(serialization.Encoding.PEM), der]
    for pad in (b"", b"\0", b"\0\0"):  # every offset of the public key modulo 3
        shown += [base64.b64encode(pad + der), base64.urlsafe_b64encode(pad + der)]
    assert not [form for form in forms for blob in shown if form in blob]
    traditional = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    leaked = [
        pem,
        traditional,
        key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    ]
    leaked.append(format(private_parts(key)[0], "x").encode())
    assert all(any(form in blob for form in forms) for blob in leaked)


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
def central_acme(release_central_acme: CentralACME) -> CentralACME:
    """Every lab test here runs on a Debian 12 host and on a Debian 13 host (Postfix 3.10, Dovecot 2.4)."""
    return release_central_acme


@pytest.fixture
def mx1(release_lab: Lab) -> Iterator[Lab]:
    lab = release_lab
    lab.changed(HOST)
    yield lab
    shutil.rmtree(lab.host(HOST).path("/etc/mailcert"), ignore_errors=True)


def fix_once(inventory: Path) -> tuple[HostAudit, HostApplied]:
    host = load_inventory(str(inventory)).host(HOST)
    audit = audit_host(host, settings())
    plan = plan_audited_host(audit, settings())
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
    again = plan_audited_host(audit_host(load_inventory(str(inventory)).host(HOST), settings()), settings())
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


def test_a_rollback_of_a_central_run_leaves_etc_as_it_was(
    mx1: Lab, central_acme: CentralACME, tmp_path: Path
) -> None:
    """The certificate's folders that central mode made on the host go again on `fix --rollback`: /etc is
    byte-identical to before the run, with no empty live folder left behind."""
    lab = mx1
    lab.plant(HOST, "expired")
    shutil.rmtree(lab.host(HOST).path("/etc/mailcert"), ignore_errors=True)
    before = etc_tree(lab)
    inventory = write_inventory(lab, central_acme, tmp_path)
    _, result = fix_once(inventory)
    assert all(c.outcome is Outcome.APPLIED for c in result.plan.changes), result.message
    assert lab.host(HOST).path("/etc/mailcert/live").is_dir()
    assert result.plan.run_id is not None
    back = rollback_host(load_inventory(str(inventory)).host(HOST), result.plan.run_id)
    assert back.state == "rolled-back", back
    assert etc_tree(lab) == before
    assert not lab.host(HOST).path("/etc/mailcert").exists()
