"""The cPanel SIMULATOR's API layer on a hand-built tree (no daemons): what it simulates of WHM API 1 —
the envelope, YAML by default and JSON with --output=json, URI-decoded values, cPanel's "Unknown app"
failure, the failure switch — and the files it writes (sni.conf from the Domain TLS entries)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mailcert.lab import procs
from mailcert.lab.cpanel_sim import store, whmapi1
from tests.pki import TestPKI, cert_pem, key_pem


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    pki = TestPKI()
    service = pki.leaf(["host.example.test", "mail.example.com"])
    for name in ("exim", "dovecot"):
        store.install_service(
            tmp_path, name, cert_pem(service.cert).decode(), key_pem(service.key).decode(),
            cert_pem(pki.intermediate.cert).decode(), "root",
        )  # fmt: skip
    domain = pki.leaf(["example.com", "mail.example.com", "www.example.com"])
    certificates = cert_pem(domain.cert, pki.intermediate.cert).decode()
    store.write_domain_tls(
        tmp_path, ["example.com", "mail.example.com"], key_pem(domain.key).decode(), certificates, "root"
    )
    store.write_accounts(tmp_path, {"ex": ["example.com"]})
    return tmp_path


def run(tree: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    import os

    os.environ["MAILCERT_CPANEL_SIM_ROOT"] = str(tree)
    try:
        assert whmapi1.main(list(argv)) == 0
    finally:
        del os.environ["MAILCERT_CPANEL_SIM_ROOT"]
    return capsys.readouterr().out


def test_fetch_service_ssl_components_json_shape(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = json.loads(run(tree, capsys, "--output=json", "fetch_service_ssl_components"))
    assert out["metadata"] == {
        "command": "fetch_service_ssl_components", "reason": "OK", "result": 1, "version": 1,
    }  # fmt: skip
    services = {s["service"]: s for s in out["data"]["services"]}
    assert sorted(services) == ["dovecot", "exim"]
    exim = services["exim"]
    assert exim["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert exim["cabundle"].count("BEGIN CERTIFICATE") == 1
    info = exim["certificate_info"]
    assert info["domains"] == ["host.example.test", "mail.example.com"]
    assert info["is_self_signed"] == 0
    assert info["key_algorithm"] == "id-ecPublicKey"
    assert info["ecdsa_curve_name"] == "secp256r1"
    assert info["not_after"] == 1798761600  # 2027-01-01T00:00:00Z (tests/pki.py END)


def test_default_output_is_yaml(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = run(tree, capsys, "mail_sni_status")
    assert text.startswith("---\n")
    assert yaml.safe_load(text) == {
        "data": {"enabled": 1},
        "metadata": {"command": "mail_sni_status", "reason": "OK", "result": 1, "version": 1},
    }


def test_unknown_function_fails_as_cpanel_does(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = json.loads(run(tree, capsys, "--output=json", "no_such_function", "a=b"))
    assert out == {
        "metadata": {
            "command": "no_such_function",
            "reason": "Unknown app (“no_such_function”) requested for this version (1) of the API.",
            "result": 0,
            "version": 1,
        }
    }


def test_real_function_not_simulated_says_so(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = json.loads(run(tree, capsys, "--output=json", "reset_service_ssl_certificate", "service=exim"))
    assert out["metadata"]["result"] == 0
    assert "SIMULATOR" in out["metadata"]["reason"]


def test_rebuild_mail_sni_config_writes_cpanels_template(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = json.loads(run(tree, capsys, "--output=json", "rebuild_mail_sni_config"))
    assert out["data"] == {"configs_built": ["/etc/dovecot/sni.conf"], "success": 1}
    sni = (tree / "etc/dovecot/sni.conf").read_text()
    assert (
        'local_name "host.example.test mail.example.com" {\n    ssl_cert = </etc/dovecot/ssl/dovecot.crt'
        in sni
    )
    # cPanel's filter: names the service certificate covers stay with it; each entry lists only names not
    # listed before (mail.example.com has its own entry, but the main block already lists it).
    assert (
        "# Domain TLS\n"
        'local_name "example.com www.example.com" {\n'
        "    ssl_cert = </var/cpanel/ssl/domain_tls/example.com/combined\n"
        "    ssl_key = </var/cpanel/ssl/domain_tls/example.com/combined\n}\n"
        "# End Domain TLS\n"
    ) in sni
    assert (tree / "etc/dovecot/sni.conf").stat().st_mode & 0o777 == 0o640


def test_failure_switch_fails_the_call_and_changes_nothing(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.write(tree, store.FAIL_CALLS, "rebuild_mail_sni_config\n")
    out = json.loads(run(tree, capsys, "--output=json", "rebuild_mail_sni_config"))
    assert out["metadata"]["result"] == 0
    assert "failed on purpose" in out["metadata"]["reason"]
    assert not (tree / "etc/dovecot/sni.conf").exists()


def test_install_refuses_a_key_that_does_not_match(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = TestPKI()
    leaf, other = pki.leaf(["a.example.com"]), pki.leaf(["b.example.com"])
    before = (tree / "var/cpanel/ssl/exim/myexim.crt").read_bytes()
    out = json.loads(
        run(
            tree,
            capsys,
            "--output=json",
            "install_service_ssl_certificate",
            "service=exim",
            "crt=" + cert_pem(leaf.cert).decode().replace("\n", "%0A"),
            "key=" + key_pem(other.key).decode(),
        )
    )
    assert out["metadata"]["result"] == 0
    assert out["metadata"]["reason"] == "The certificate does not match the private key."
    assert (tree / "var/cpanel/ssl/exim/myexim.crt").read_bytes() == before


def test_input_json_takes_the_arguments_from_stdin_and_logs_no_key(
    tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    pki = TestPKI()
    leaf, other = pki.leaf(["a.example.com"]), pki.leaf(["b.example.com"])
    body = {"service": "exim", "crt": cert_pem(leaf.cert).decode(), "key": key_pem(other.key).decode()}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(body)))
    out = json.loads(run(tree, capsys, "--input=json", "--output=json", "install_service_ssl_certificate"))
    # the arguments arrived (a real key/certificate pair is compared, not URI-decoded text)
    assert out["metadata"]["reason"] == "The certificate does not match the private key."
    assert store.logged_calls(tree) == [
        ["whmapi1", "--input=json", "--output=json", "install_service_ssl_certificate"]
    ]
    assert oct((tree / store.CALLS_LOG.lstrip("/")).stat().st_mode & 0o777) == "0o600"


def test_input_json_that_is_not_an_object_fails_the_call(
    tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("service=exim"))
    out = json.loads(run(tree, capsys, "--input=json", "--output=json", "install_service_ssl_certificate"))
    assert out["metadata"]["result"] == 0
    assert out["metadata"]["reason"].startswith("The input could not be parsed as JSON")


def test_domain_tls_combined_is_key_then_leaf_then_chain(tree: Path) -> None:
    combined = (tree / "var/cpanel/ssl/domain_tls/example.com/combined").read_text()
    assert [kind for kind, _ in store.pem_blocks(combined)] == ["PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"]
    assert store.domain_tls_entries(tree) == ["example.com", "mail.example.com"]
    assert store.user_domains(tree) == {"example.com": "ex"}


def test_autossl_runs_in_the_background_and_reports_its_problem(tree: Path) -> None:
    import time

    from mailcert.lab.cpanel_sim import autossl

    # an ACME server on a closed loopback port: the check fails, as AutoSSL does when its provider is down
    store.SimConfig(
        "host.example.test", "root", "https://127.0.0.1:9/dir", "/dev/null", "a@example.test"
    ).save(tree)
    before = (tree / "var/cpanel/ssl/domain_tls/example.com/combined").read_bytes()
    data, reason = autossl.start(tree, "ex")
    assert reason is None and data is not None and isinstance(data["pid"], int)
    deadline = time.monotonic() + 120
    while autossl.in_progress(tree, "ex") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not autossl.in_progress(tree, "ex")
    found = autossl.problems(tree, "ex")
    assert [p["domain"] for p in found] == ["example.com"]
    assert "could not get a certificate" in str(found[0]["problem"])
    # a failed check changes no Domain TLS certificate
    assert (tree / "var/cpanel/ssl/domain_tls/example.com/combined").read_bytes() == before


def test_a_second_autossl_check_while_one_runs_is_refused(tree: Path) -> None:
    import os

    from mailcert.lab.cpanel_sim import autossl

    running = tree / "var/cpanel/mailcert-sim/autossl/ex/running"
    running.parent.mkdir(parents=True)
    running.write_text(str(os.getpid()))  # a live process holds the check
    data, reason = autossl.start(tree, "ex")
    assert data is None and reason is not None and "CommandAlreadyRunning" in reason
    assert autossl.start(tree, "nobody-here")[1] == "“nobody-here” is not a cPanel user."


def test_a_daemon_that_exited_counts_as_stopped_while_it_waits_to_be_reaped() -> None:
    """restartsrv waits for the old daemon to stop before starting the new one. An exited daemon stays a
    zombie until init reaps it, and kill(pid, 0) still succeeds then. The SIMULATOR must see it as stopped,
    or every restart waits for the reaper (seconds in the lab)."""
    import os
    import subprocess
    import time

    child = subprocess.Popen(["sleep", "60"])
    try:
        assert procs.running(child.pid)
        child.terminate()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] != "Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        os.kill(child.pid, 0)  # a zombie: still "there" for kill(pid, 0)
        assert not procs.running(child.pid)
    finally:
        child.kill()
        child.wait()
