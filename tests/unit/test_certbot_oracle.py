"""The reader against what REAL certbot writes: certbot (Debian 2.1) issues and renews from Pebble on 127.0.0.1.

certbot's hooks run a stub `systemctl` (first on PATH) that only records its arguments, so the test also
proves the hook text we parse is the command certbot really runs — and nothing on this machine is reloaded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailcert.checks.renewal import CertUse, check_renewal
from mailcert.hostfs import LocalRoot
from mailcert.services.certbot.parser import read_certbot
from tests.pki import TestPKI, cert_pem

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs pebble and certbot as CI does: as root"),
]

NAME = "mail.example.test"
NAMES = ("mail.example.test", "imap.example.test")
DEPLOY_HOOK = "systemctl reload postfix dovecot"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pebble exited: {log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"pebble did not listen on 127.0.0.1:{port}: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def certbot_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A certbot config dir with NAME (issued, then force-renewed) and NAME-0001 (--duplicate)."""
    work = tmp_path_factory.mktemp("certbot-oracle")
    acme, http, manage = _free_port(), _free_port(), _free_port()
    pki = TestPKI("Pebble Listener")
    listener = pki.leaf(("localhost", "127.0.0.1"))
    (work / "listener.pem").write_bytes(pki.bundle(listener))
    (work / "listener.key").write_bytes(listener.key_pem())
    (work / "trust.pem").write_bytes(cert_pem(pki.root.cert))
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{acme}",
            "managementListenAddress": f"127.0.0.1:{manage}",
            "certificate": str(work / "listener.pem"),
            "privateKey": str(work / "listener.key"),
            "httpPort": http,
            "tlsPort": _free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (work / "pebble.json").write_text(json.dumps(config))
    stub_bin = work / "bin"
    stub_bin.mkdir()
    (stub_bin / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {work}/systemctl.calls\n')
    (stub_bin / "systemctl").chmod(0o755)
    env = {
        **os.environ,
        "PEBBLE_VA_ALWAYS_VALID": "1",  # no DNS: the test is about what certbot writes, not about validation
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": "0",
        "REQUESTS_CA_BUNDLE": str(work / "trust.pem"),
        "PATH": f"{stub_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    log = work / "pebble.log"
    with log.open("wb") as out:
        pebble = subprocess.Popen(
            ["pebble", "-config", str(work / "pebble.json"), "-strict=false"], stdout=out, stderr=out, env=env
        )
    try:
        _wait_for_port(acme, pebble, log)
        config_dir = work / "etc/letsencrypt"
        common = [
            "--non-interactive",
            f"--config-dir={config_dir}",
            f"--work-dir={work / 'var/lib/letsencrypt'}",
            f"--logs-dir={work / 'var/log/letsencrypt'}",
        ]
        issue = [
            "certbot",
            "certonly",
            *common,
            "--agree-tos",
            "--register-unsafely-without-email",
            f"--server=https://127.0.0.1:{acme}/dir",
            "--standalone",
            f"--http-01-port={http}",
            "--http-01-address=127.0.0.1",
            *(
                word for name in NAMES for word in ("-d", name)
            ),  # certbot 5.8 + ConfigArgParse 1.10 fail on -dNAME
        ]
        _run([*issue, f"--cert-name={NAME}", f"--deploy-hook={DEPLOY_HOOK}"], env)
        hook = config_dir / "renewal-hooks/deploy/50-dovecot"
        hook.write_text("#!/bin/sh\nsystemctl restart dovecot.service\n")
        hook.chmod(0o755)
        _run(["certbot", "renew", *common, "--force-renewal", "--no-random-sleep-on-renew"], env)
        _run([*issue, "--duplicate"], env)  # certbot names the second lineage NAME-0001
        yield work, config_dir
    finally:
        pebble.terminate()
        pebble.wait(timeout=10)


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-1500:]}\n{result.stderr[-3000:]}"


def _openssl_enddate(path: Path) -> datetime:
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-enddate", "-in", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return datetime.strptime(out.strip().removeprefix("notAfter="), "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=UTC
    )


def test_reader_understands_real_certbot_lineages(certbot_run: tuple[Path, Path]) -> None:
    work, config_dir = certbot_run
    state = read_certbot(LocalRoot("/"), str(config_dir))
    assert [lineage.name for lineage in state.lineages] == [NAME, f"{NAME}-0001"]
    first, duplicate = state.lineages
    assert set(first.names) == set(NAMES) and set(duplicate.names) == set(NAMES)
    assert first.conf_error is None and first.cert_error is None
    assert first.fullchain == f"{config_dir}/live/{NAME}/fullchain.pem"
    assert [v.number for v in first.versions] == [1, 2]  # issued, then force-renewed
    assert (config_dir / f"live/{NAME}/cert.pem").readlink() == Path(f"../../archive/{NAME}/cert2.pem")
    assert first.not_after == _openssl_enddate(config_dir / f"archive/{NAME}/cert2.pem")
    assert first.leaf_der == first.versions[-1].leaf_der
    assert first.renew_hook == DEPLOY_HOOK and first.hooks[0].reloads == {"postfix", "dovecot"}
    assert (first.authenticator, first.key_type) == (
        "standalone",
        "ecdsa",
    )  # certbot >= 2.0 defaults to ECDSA
    assert first.server is not None and first.server.startswith("https://127.0.0.1:")
    assert first.version == "2.1.0"
    (hook,) = [h for h in state.hooks if h.source.endswith("/50-dovecot")]
    assert hook.runs and hook.reloads == {"dovecot"}
    # What certbot really ran: the saved deploy hook at issuance and renewal, the hook file at renewal
    calls = (work / "systemctl.calls").read_text().splitlines()
    assert calls.count("reload postfix dovecot") == 2 and calls.count("restart dovecot.service") == 1


def test_real_duplicate_lineage_is_reported_superseded(certbot_run: tuple[Path, Path]) -> None:
    _, config_dir = certbot_run
    live = f"{config_dir}/live/{NAME}"
    uses = [
        CertUse("postfix", 25, f"{live}/fullchain.pem", f"{live}/privkey.pem", "smtpd_tls_cert_file"),
        CertUse("dovecot", 993, f"{live}/fullchain.pem", f"{live}/privkey.pem", "ssl_cert"),
    ]
    state = read_certbot(LocalRoot("/"), str(config_dir))
    assert state.lineages[0].not_before is not None
    findings = check_renewal(state, uses, state.lineages[0].not_before + timedelta(days=1))
    (superseded,) = [f for f in findings if f.check == "renewal.lineage-superseded"]
    assert f"newer certbot lineage {NAME}-0001" in superseded.message
    assert not [f for f in findings if f.check in ("renewal.no-reload-hook", "renewal.unmanaged-path")]
