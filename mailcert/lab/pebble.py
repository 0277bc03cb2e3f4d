"""Pebble (a local ACME server) and pebble-challtestsrv (mock DNS) on the lab bridge address.

Pebble's validator looks lab names up in challtestsrv, which maps each name to its host's address,
and fetches http-01 tokens from port 80 of that host (left free for certbot --standalone).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mailcert.lab import LabError
from mailcert.lab.network import GATEWAY
from mailcert.lab.pki import LabCA, cert_pem, issue_leaf, key_pem, new_key
from mailcert.lab.procs import RecordedProcess

if TYPE_CHECKING:
    from mailcert.lab.state import LabState

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


# -- stopping and starting the lab's Pebble (tests of "the ACME server is down") ---------------------------
PEBBLE_ROLE = "pebble"


def stop(lab_dir: Path) -> None:
    """Stop the running lab's Pebble (the mock DNS keeps running); `start` brings it back."""
    from mailcert.lab.procs import terminate
    from mailcert.lab.state import LabState

    state = _state(lab_dir)
    terminate([p for p in state.acme if p.role == PEBBLE_ROLE])
    fresh = LabState.load(state.dir) or state
    fresh.acme = [p for p in fresh.acme if p.role != PEBBLE_ROLE]
    fresh.save()


def start(lab_dir: Path) -> None:
    """Start the lab's Pebble again (nothing when it runs) and trust its new root: Pebble makes new roots
    at every start, so the lab's CA bundle gets the new root added (the earlier ones stay, for certificates
    issued before)."""
    state = _state(lab_dir)
    if any(p.role == PEBBLE_ROLE and p.alive() for p in state.acme):
        return
    acme_dir = state.dir / "acme"
    proc = start_pebble(acme_dir / "pebble-config.json")
    state.acme.append(proc)
    state.save()
    root = fetch_issuing_root(state.dir / "pki" / "root-ca.pem")
    from mailcert.lab.inventory import CA_BUNDLE, write_ca_bundle

    bundle = (state.dir / CA_BUNDLE).read_bytes()
    if root.strip() not in bundle:
        write_ca_bundle(state.dir, [bundle, root])
    (acme_dir / "pebble-root.pem").write_bytes(root)


def running(lab_dir: Path) -> bool:
    return any(p.role == PEBBLE_ROLE and p.alive() for p in _state(lab_dir).acme)


@contextlib.contextmanager
def stopped(lab_dir: Path) -> Iterator[None]:
    """Pebble stopped for the block, and started again after it, whatever happens inside."""
    stop(lab_dir)
    try:
        yield
    finally:
        start(lab_dir)


def _state(lab_dir: Path) -> LabState:
    from mailcert.lab.state import LabState

    state = LabState.load(lab_dir.resolve())
    if state is None:
        raise LabError(f"no lab under {lab_dir}", todo="run `mailcert lab up` first")
    return state
