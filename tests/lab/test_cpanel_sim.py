"""A `cpanel` lab host: real Exim and real Dovecot at cPanel's paths, driven through the cPanel SIMULATOR.

What is simulated (and so what these tests hold the SIMULATOR to): cPanel's file layout
(/var/cpanel/ssl/{exim,dovecot}/my*.crt = crt + cab, Domain TLS `combined` = key + leaf + chain,
/etc/dovecot/sni.conf from cPanel's template), `whmapi1`'s envelope and its failures, install_service_
ssl_certificate restarting the service, rebuild_mail_sni_config, an AutoSSL check (certbot against the
lab's ACME server standing in for cPanel's provider) and /scripts/restartsrv_*. What is real: the daemons,
the TLS each port serves, SNI selection by Exim's cPanel expansion and by Dovecot's local_name blocks.
Runs a lab of its own (the shared one is down meanwhile)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from mailcert.lab import lifecycle
from tests.lab.clients import served_leaf, verify
from tests.lab.fixture import LabManager, one_host_lab

pytestmark = pytest.mark.lab

HOST = "mx1"
ADDRESS = "10.213.0.11"
HOSTNAME = "mail.mx1.mailcert.test"
ALPHA = "mail.alpha.mx1.mailcert.test"  # has a Domain TLS (AutoSSL) certificate
BETA = "mail.beta.mx1.mailcert.test"  # has none: its clients get the service certificate (hostname + BETA)
PORTS = (25, 587, 465, 143, 993, 110, 995)


@pytest.fixture(scope="module")
def cpanel_lab(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from one_host_lab(lab_manager, tmp_path_factory, "cpanel")


@pytest.fixture
def cpanel_host(cpanel_lab: Path) -> Iterator[Path]:
    yield cpanel_lab
    lifecycle.reset_host(cpanel_lab, HOST)


def on_host(lab_dir: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return lifecycle.shell_for(lifecycle.require_state(lab_dir), HOST).try_run(list(command), timeout=300)


def whmapi1(lab_dir: Path, *args: str) -> dict[str, object]:
    done = on_host(lab_dir, "/usr/local/cpanel/bin/whmapi1", "--output=json", *args)
    assert done.returncode == 0, done.stderr
    envelope: dict[str, object] = json.loads(done.stdout)
    return envelope


def sans(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )


def test_healthy_cpanel_host_serves_every_client_name_on_every_port(cpanel_host: Path) -> None:
    bundle = str(cpanel_host / "ca-bundle.pem")
    for port in PORTS:
        for name in (HOSTNAME, ALPHA, BETA):
            verdict = verify(ADDRESS, port, name, bundle)
            assert verdict.ok, (port, name, verdict)
    # Exim picks the Domain TLS certificate by SNI (cPanel's tls_certificate expansion) ...
    assert sans(served_leaf(ADDRESS, 465, ALPHA)) == [
        "alpha.mx1.mailcert.test", ALPHA, "www.alpha.mx1.mailcert.test",
    ]  # fmt: skip
    # ... and falls back to the service certificate for a name without one.
    assert sans(served_leaf(ADDRESS, 465, BETA)) == [HOSTNAME, BETA]
    assert lifecycle.status(cpanel_host)["hosts"][0]["kind"] == "cpanel"  # type: ignore[index]
    root = cpanel_host / "hosts" / HOST / "root"
    myexim = (root / "var/cpanel/ssl/exim/myexim.crt").read_text()
    assert myexim.count("BEGIN CERTIFICATE") == 2  # crt + cab, as the API installs it
    combined = (root / f"var/cpanel/ssl/domain_tls/{ALPHA}/combined").read_text()
    assert combined.index("PRIVATE KEY") < combined.index("BEGIN CERTIFICATE")


def test_fetch_and_unknown_calls_answer_in_cpanels_envelope(cpanel_host: Path) -> None:
    fetched = whmapi1(cpanel_host, "fetch_service_ssl_components")
    assert fetched["metadata"] == {
        "command": "fetch_service_ssl_components", "reason": "OK", "result": 1, "version": 1,
    }  # fmt: skip
    services = fetched["data"]["services"]  # type: ignore[index]
    assert [s["service"] for s in services] == ["exim", "dovecot"]
    assert services[0]["certificate_info"]["domains"] == [HOSTNAME, BETA]
    unknown = whmapi1(cpanel_host, "install_everything")
    assert unknown["metadata"]["result"] == 0  # type: ignore[index]
    assert "Unknown app" in unknown["metadata"]["reason"]  # type: ignore[index]


def test_install_service_certificate_restarts_the_real_daemon(cpanel_host: Path) -> None:
    root = cpanel_host / "hosts" / HOST / "root"
    # A certificate for the hostname only, taken from the lab's certbot lineage (mail.mx1 ... pop.mx1).
    live = root / f"etc/letsencrypt/live/{HOSTNAME}"
    crt = (live / "cert.pem").read_text()
    key = (live / "privkey.pem").read_text()
    cab = (live / "chain.pem").read_text()
    answer = whmapi1(cpanel_host, "install_service_ssl_certificate", "service=exim", f"crt={crt}", f"key={key}",
                     f"cabundle={cab}")  # fmt: skip
    assert answer["metadata"]["result"] == 1, answer  # type: ignore[index]
    assert answer["data"]["service_description"] == "Mail Server (Exim)"  # type: ignore[index]
    assert (root / "var/cpanel/ssl/exim/myexim.crt").read_text() == crt.rstrip("\n") + "\n" + cab
    served = served_leaf(ADDRESS, 465, BETA)
    assert sans(served)[0] == HOSTNAME and BETA not in sans(served)  # the new one, served after the restart
    assert BETA in sans(served_leaf(ADDRESS, 993, BETA))  # dovecot untouched


def test_failure_switch_fails_the_call_and_leaves_the_host_as_it_was(cpanel_host: Path) -> None:
    root = cpanel_host / "hosts" / HOST / "root"
    before = (root / "var/cpanel/ssl/dovecot/mydovecot.crt").read_bytes()
    (root / "var/cpanel/mailcert-sim/fail-calls").write_text("install_service_ssl_certificate\n")
    live = root / f"etc/letsencrypt/live/{HOSTNAME}"
    answer = whmapi1(
        cpanel_host, "install_service_ssl_certificate", "service=dovecot",
        f"crt={(live / 'cert.pem').read_text()}", f"key={(live / 'privkey.pem').read_text()}",
    )  # fmt: skip
    assert answer["metadata"]["result"] == 0  # type: ignore[index]
    assert "failed on purpose" in answer["metadata"]["reason"]  # type: ignore[index]
    assert (root / "var/cpanel/ssl/dovecot/mydovecot.crt").read_bytes() == before


def uapi_ssl(lab_dir: Path, user: str, function: str) -> object:
    done = on_host(lab_dir, "/usr/local/cpanel/bin/uapi", f"--user={user}", "--output=json", "SSL", function)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["result"]
    assert result["status"] == 1, result
    return result["data"]


def test_autossl_check_for_one_user_issues_from_the_lab_acme_and_rebuilds_sni(cpanel_host: Path) -> None:
    import time

    answer = whmapi1(cpanel_host, "start_autossl_check_for_one_user", "username=beta")
    assert answer["metadata"]["result"] == 1, answer  # type: ignore[index]
    assert isinstance(answer["data"]["pid"], int)  # type: ignore[index]
    # as cPanel's, the check runs in the background: the call returned while it runs
    assert uapi_ssl(cpanel_host, "beta", "is_autossl_check_in_progress") == 1
    again = whmapi1(cpanel_host, "start_autossl_check_for_one_user", "username=beta")
    assert "CommandAlreadyRunning" in again["metadata"]["reason"]  # type: ignore[index]
    deadline = time.monotonic() + 300
    while uapi_ssl(cpanel_host, "beta", "is_autossl_check_in_progress") == 1 and time.monotonic() < deadline:
        time.sleep(1)
    assert uapi_ssl(cpanel_host, "beta", "get_autossl_problems") == []
    root = cpanel_host / "hosts" / HOST / "root"
    assert (root / f"var/cpanel/ssl/domain_tls/{BETA}/combined").is_file()
    # cPanel's filter: mail.beta stays in the service certificate's block; beta's own block lists beta.<host>
    assert 'local_name "beta.mx1.mailcert.test" {' in (root / "etc/dovecot/sni.conf").read_text()
    leaf = served_leaf(ADDRESS, 465, BETA)
    assert sans(leaf) == ["beta.mx1.mailcert.test", BETA]
    assert "Pebble" in leaf.issuer.rfc4514_string()
    assert verify(ADDRESS, 465, BETA, str(cpanel_host / "ca-bundle.pem")).ok
    restarted = on_host(cpanel_host, "/scripts/restartsrv_dovecot")
    assert restarted.returncode == 0 and "restarted successfully" in restarted.stdout
