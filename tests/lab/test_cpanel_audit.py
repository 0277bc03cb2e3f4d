"""`mailcert audit` of a lab `cpanel` host (real Exim + Dovecot, the cPanel SIMULATOR's files, SSH as the
sudo user): healthy is clean, and each planted cPanel fault is reported with its check ID (expected IDs
decided by hand from what each fault does to the files and to what the daemons serve).
Runs a lab of its own (the shared one is down meanwhile)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mailcert.lab import lifecycle, operate
from mailcert.lab.cpanel_sim import store
from tests.lab.fixture import LabManager, one_host_lab

pytestmark = pytest.mark.lab

HOST = "mx1"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cpanel_lab(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from one_host_lab(lab_manager, tmp_path_factory, "cpanel")


@pytest.fixture
def cpanel_host(cpanel_lab: Path) -> Iterator[Path]:
    yield cpanel_lab
    lifecycle.reset_host(cpanel_lab, HOST)


CLIENT_NAMES = [  # what the cPanel host's mail clients use (the lab inventory lists the postfix-style names)
    "mail.mx1.mailcert.test", "mail.alpha.mx1.mailcert.test", "mail.beta.mx1.mailcert.test", "alpha.mx1.mailcert.test",
]  # fmt: skip


def cpanel_inventory(lab_dir: Path) -> Path:
    """The lab's inventory with a cPanel admin's view of mx1: role cpanel too, the names its clients use, no
    mailcert_domains (the lab DNS publishes the postfix-style smtp./imap./pop. names for mx1.mailcert.test)."""
    folder = lab_dir.parent / "cpanel-inventory"
    if not folder.exists():
        data = yaml.safe_load((lab_dir / "inventory.yml").read_text())
        host_vars = data["all"]["hosts"][HOST]
        host_vars["mailcert_hostnames"] = CLIENT_NAMES
        host_vars.pop("mailcert_domains", None)
        (folder / "host_vars").mkdir(parents=True)
        (folder / "hosts.yml").write_text(yaml.safe_dump(data))
        roles = {"mailcert_roles": ["exim", "dovecot", "cpanel"]}
        (folder / "host_vars" / f"{HOST}.yml").write_text(yaml.safe_dump(roles))
    return folder


def audit(lab_dir: Path) -> tuple[int, dict[str, object]]:
    argv = [
        sys.executable,
        "-m",
        "mailcert",
        "-I",
        str(cpanel_inventory(lab_dir)),
        "audit",
        "--format",
        "json",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600, cwd=REPO)
    assert "Traceback" not in done.stderr, done.stderr
    host: dict[str, object] = json.loads(done.stdout)["hosts"][0]
    return done.returncode, host


def problems(host: dict[str, object]) -> set[tuple[str, str | None]]:
    findings = host["findings"]
    assert isinstance(findings, list)
    return {(f["check"], f["service"]) for f in findings if f["severity"] in ("critical", "warning")}


def test_healthy_cpanel_host_audits_clean(cpanel_host: Path) -> None:
    code, host = audit(cpanel_host)
    assert (code, host["status"], problems(host)) == (0, "ok", set()), host["findings"]


# (an SNI entry no client name selects is not probed by address: it would get the service certificate)
def test_the_labs_own_inventory_of_a_cpanel_host_audits_clean(cpanel_host: Path) -> None:
    # what a user gets from `mailcert lab up --kind cpanel` then `mailcert -I LAB/inventory.yml audit`
    argv = [
        sys.executable,
        "-m",
        "mailcert",
        "-I",
        str(cpanel_host / "inventory.yml"),
        "audit",
        "--format",
        "json",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600, cwd=REPO)
    host = json.loads(done.stdout)["hosts"][0]
    assert (done.returncode, host["status"], problems(host)) == (0, "ok", set()), host["findings"]


def test_hostname_only_service_certificate(cpanel_host: Path) -> None:
    lifecycle.plant_fault(cpanel_host, HOST, "cpanel-hostname-only")
    code, host = audit(cpanel_host)
    found = problems(host)
    assert code == 2
    assert ("cpanel.service-cert-names", "cpanel") in found, host["findings"]
    assert {("cert.name-mismatch", "exim"), ("cert.name-mismatch", "dovecot")} <= found


def test_stale_sni_conf(cpanel_host: Path) -> None:
    lifecycle.plant_fault(cpanel_host, HOST, "cpanel-stale-sni")
    _, host = audit(cpanel_host)
    assert ("cpanel.sni-stale", "cpanel") in problems(host), host["findings"]


def test_missing_ca_bundle(cpanel_host: Path) -> None:
    lifecycle.plant_fault(cpanel_host, HOST, "cpanel-missing-cabundle")
    code, host = audit(cpanel_host)
    found = problems(host)
    assert code == 2
    assert ("cpanel.cabundle-missing", "cpanel") in found, host["findings"]
    assert ("cert.chain-incomplete", "exim") in found  # served: the leaf alone, on the wire


def test_expired_domain_certificate(cpanel_host: Path) -> None:
    lifecycle.plant_fault(cpanel_host, HOST, "cpanel-expired-domain")
    code, host = audit(cpanel_host)
    assert code == 2
    assert ("cert.expired", "exim") in problems(host), host["findings"]


# --- fix: through cPanel's API only; re-audit clean; a second run plans nothing; an API failure restores ----
def mailcert(lab_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "mailcert", "-I", str(cpanel_inventory(lab_dir)), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900, cwd=REPO)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def last_json(text: str) -> dict[str, object]:
    report: dict[str, object] = json.loads(text[text.rindex("\n{") + 1 :] if "\n{" in text else text)
    return report


@pytest.mark.parametrize(
    "faults",
    [
        ("cpanel-hostname-only",),
        ("cpanel-stale-sni",),
        ("cpanel-missing-cabundle",),
        ("cpanel-expired-domain",),
        ("cpanel-hostname-only", "cpanel-expired-domain"),
    ],
    ids=lambda f: "+".join(f),
)
def test_fix_repairs_each_cpanel_fault_through_the_api(cpanel_host: Path, faults: tuple[str, ...]) -> None:
    for fault in faults:
        lifecycle.plant_fault(cpanel_host, HOST, fault)
    root = cpanel_host / "hosts" / HOST / "root"
    exim_conf = (root / "etc/exim.conf").read_bytes()
    calls_before = len(store.logged_calls(root))
    done = mailcert(cpanel_host, "fix", "-y", "--format", "json")
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    plan = last_json(done.stdout)["plan"]
    assert isinstance(plan, list)
    steps = [e for e in plan if e["kind"] not in ("unfixable", "error")]
    assert {e["outcome"] for e in steps} == {"applied"}, plan
    # no file of cPanel's edited by mailcert: API calls, and at most certbot's deploy hook written
    assert {e["kind"] for e in steps} <= {"issue", "command", "create"}
    assert all(e["path"].startswith("/etc/letsencrypt/") for e in steps if e["kind"] == "create")
    assert (root / "etc/exim.conf").read_bytes() == exim_conf
    code, host = audit(cpanel_host)
    assert (code, problems(host)) == (0, set()), host["findings"]
    hook = root / "etc/letsencrypt/renewal-hooks/deploy/mailcert-cpanel"
    installs = any("install_service_ssl_certificate" in e["description"] for e in steps)
    assert installs == hook.exists()  # a lineage installed into cPanel comes with its deploy hook
    # keys went to whmapi1 on stdin: no API call's command line (what /proc shows local users) held one
    logged = store.logged_calls(root)[calls_before:]  # this run's API calls
    assert installs == any("install_service_ssl_certificate" in argv for argv in logged)
    assert not any("PRIVATE KEY" in " ".join(argv) for argv in logged), logged
    if installs:  # a renewal reaches cPanel: the hook installs the lineage again through whmapi1
        assert (
            operate.exec_in_host(cpanel_host, HOST, ["/etc/letsencrypt/renewal-hooks/deploy/mailcert-cpanel"])
            == 0
        )
        assert audit(cpanel_host)[0] == 0
    again = mailcert(cpanel_host, "fix", "-y", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert [e for e in last_json(again.stdout)["plan"] if e["kind"] != "unfixable"] == []  # type: ignore[union-attr]


def test_an_api_failure_restores_the_service_certificates_through_the_api(cpanel_host: Path) -> None:
    lifecycle.plant_fault(cpanel_host, HOST, "cpanel-hostname-only")
    lifecycle.plant_fault(cpanel_host, HOST, "cpanel-expired-domain")
    root = cpanel_host / "hosts" / HOST / "root"
    # the installs succeed, then the AutoSSL call fails: the installs must be undone through whmapi1
    (root / "var/cpanel/mailcert-sim/fail-calls").write_text("start_autossl_check_for_one_user\n")
    kept = [
        "var/cpanel/ssl/exim/myexim.crt", "var/cpanel/ssl/exim/myexim.key",
        "var/cpanel/ssl/dovecot/mydovecot.crt", "var/cpanel/ssl/dovecot/mydovecot.key",
    ]  # fmt: skip
    before = {path: (root / path).read_bytes() for path in kept}
    _, audited = audit(cpanel_host)
    done = mailcert(cpanel_host, "fix", "-y", "--format", "json")
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    text = done.stdout + done.stderr
    assert "failed on purpose" in text  # cPanel's reason (the SIMULATOR's switch) reaches the user
    assert {path: (root / path).read_bytes() for path in kept} == before
    _, after = audit(cpanel_host)
    assert problems(after) == problems(audited)  # the daemons serve what they served before
