"""Pebble (a local ACME server) and pebble-challtestsrv (mock DNS) on the lab bridge address.

Pebble's validator looks lab names up in challtestsrv, which maps each name to its host's address,
and fetches http-01 tokens from port 80 of that host (left free for certbot --standalone).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from mailcert.lab import LabError
from mailcert.lab.network import GATEWAY
from mailcert.lab.pki import LabCA, cert_pem, issue_leaf, key_pem, new_key
from mailcert.lab.procs import RecordedProcess

ACME_PORT = 14000
MANAGEMENT_PORT = 15000
DNS_PORT = 8053
DNS_MANAGEMENT_PORT = 8055
ACME_DIRECTORY = f"https://{GATEWAY}:{ACME_PORT}/dir"


def write_config(folder: Path, ca: LabCA, now: dt.datetime) -> Path:
    """Listener certificate for Pebble's HTTPS ports (issued by the lab CA) and its config file."""
    folder.mkdir(parents=True, exist_ok=True)
    key = new_key()
    leaf = issue_leaf(
        ca.intermediate,
        ["acme.mailcert.test", str(GATEWAY), "localhost"],
        key,
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=365),
    )
    (folder / "listener.pem").write_bytes(cert_pem(leaf) + cert_pem(ca.intermediate.cert))
    key_path = folder / "listener.key"
    key_path.touch(mode=0o600)
    key_path.write_bytes(key_pem(key))
    config = {
        "pebble": {
            "listenAddress": f"{GATEWAY}:{ACME_PORT}",
            "managementListenAddress": f"{GATEWAY}:{MANAGEMENT_PORT}",
            "certificate": str(folder / "listener.pem"),
            "privateKey": str(key_path),
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    path = folder / "pebble-config.json"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def _spawn(argv: list[str], log: Path, env: Mapping[str, str], role: str) -> RecordedProcess:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=dict(env), start_new_session=True
        )
    time.sleep(0.05)
    if proc.poll() is not None:
        raise LabError(f"{role} exited at start (code {proc.returncode})", where=str(log))
    return RecordedProcess.of(proc.pid, role)


def start_dns(folder: Path) -> RecordedProcess:
    argv = [
        "pebble-challtestsrv",
        "-defaultIPv4", "", "-defaultIPv6", "",
        "-dns01", f"{GATEWAY}:{DNS_PORT}",
        "-http01", "", "-https01", "", "-tlsalpn01", "",
        "-management", f"{GATEWAY}:{DNS_MANAGEMENT_PORT}",
    ]  # fmt: skip
    return _spawn(argv, folder / "challtestsrv.log", _clean_env(), "pebble-challtestsrv")


def start_pebble(config: Path, dnsserver: str = f"{GATEWAY}:{DNS_PORT}") -> RecordedProcess:
    env = {**_clean_env(), "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    argv = ["pebble", "-config", str(config), "-dnsserver", dnsserver, "-strict=false"]
    return _spawn(argv, config.parent / "pebble.log", env, "pebble")


def _clean_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}


def map_names(addresses: Mapping[str, str], *, timeout: float = 10) -> None:
    """Tell the mock DNS which address each lab name has (A records)."""
    for name, address in addresses.items():
        body = json.dumps({"host": name, "addresses": [address]}).encode()
        _post(f"http://{GATEWAY}:{DNS_MANAGEMENT_PORT}/add-a", body, timeout)


def _post(url: str, body: bytes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=2):  # noqa: S310 — lab address
                return
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise LabError(f"the lab's mock DNS does not answer at {url}: {exc}") from exc
            time.sleep(0.1)


def fetch_issuing_root(
    lab_root_pem: Path, *, timeout: float = 15, management_port: int = MANAGEMENT_PORT
) -> bytes:
    """Pebble makes new roots at every start: fetch the current one from its management port."""
    context = ssl.create_default_context(cafile=str(lab_root_pem))
    url = f"https://{GATEWAY}:{management_port}/roots/0"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as answer:
                data: bytes = answer.read()
                if b"BEGIN CERTIFICATE" in data:
                    return data
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise LabError(
                    f"Pebble does not answer at {url}: {exc}", where=str(lab_root_pem.parent)
                ) from exc
        time.sleep(0.1)
