"""ACME account details, DNS-plugin credentials and the sudo password during `mailcert fix`, on a real lab
host whose plan runs certbot against the lab's Pebble: canary values never appear in any output, report
format, log record (DEBUG), the argument list of any process while fix runs, the run records fix leaves
on the host, or the host's logs.

SPEC names no variable for an ACME EAB key or DNS-plugin credentials (yet): the canaries ride in the
inventory variables an admin would try (`mailcert_acme_eab_kid`, `mailcert_acme_eab_hmac_key`,
`mailcert_dns_credentials`) and in the root-only credentials file on the host that certbot's DNS plugins
read (the way SPEC's `dns-<plugin>` challenge gets its secret: a file on the host, never argv)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import HOST, STATE_DIR, fix_inventory
from tests.lab.test_fix_cli import last_json

CREDENTIALS = "/etc/letsencrypt/mailcert-test-dns.ini"
DRIVER = """
import logging, sys
from mailcert.cli import main
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="LOG %(name)s %(message)s")
sys.exit(main(["mailcert", *sys.argv[1:]]))
"""


class ArgvSampler:
    """Every process's argument list (/proc/PID/cmdline, so the host's processes too: the lab shares the
    pid namespace), over and over in a thread while fix runs."""

    def __init__(self) -> None:
        self.samples: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    self.samples.add(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    continue
            time.sleep(0.01)

    def __enter__(self) -> ArgvSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def saw(self, word: str) -> list[str]:
        return sorted(s for s in self.samples if word in s)


def run_fix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", DRIVER, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


def host_files(lab: Lab, folders: tuple[str, ...]) -> dict[str, bytes]:
    files = {}
    for folder in folders:
        root = lab.host(HOST).path(folder)
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_file() and not path.is_symlink():
                files[f"{HOST}:{folder}/{path.relative_to(root)}"] = path.read_bytes()
    return files


@pytest.fixture
def canaries() -> dict[str, str]:
    return {
        what: f"mcCanary{what.title().replace('-', '')}{secrets.token_hex(8)}"
        for what in ("eab-kid", "eab-hmac", "dns-inventory", "dns-file", "sudo")
    }


def test_acme_and_dns_credentials_never_leave_their_files_during_fix(
    lab: Lab, tmp_path: Path, canaries: dict[str, str]
) -> None:
    lab.plant(HOST, "expired")  # the plan renews the lineage with certbot (Pebble), then reloads
    inventory = fix_inventory(lab, tmp_path / "inv")
    host_vars = tmp_path / "inv" / "host_vars" / f"{HOST}.yml"
    values = yaml.safe_load(host_vars.read_text())
    values.update(
        {
            "mailcert_acme_eab_kid": canaries["eab-kid"],
            "mailcert_acme_eab_hmac_key": canaries["eab-hmac"],
            "mailcert_dns_credentials": canaries["dns-inventory"],
            # the lab's sudo needs no password: sudo -S then never reads it, and it must not reach what
            # runs after sudo either (the switch's payload on its stdin)
            "ansible_become_password": canaries["sudo"],
        }
    )
    host_vars.write_text(yaml.safe_dump(values))
    credentials = lab.host(HOST).path(CREDENTIALS)
    credentials.write_text(f"dns_rfc2136_server = 10.213.0.1\ndns_rfc2136_secret = {canaries['dns-file']}\n")
    credentials.chmod(0o600)
    lab.changed(HOST)  # the reset removes the credentials file with the rest of what a fresh host lacks
    inv = str(inventory)
    outputs: dict[str, str] = {}
    reports = tmp_path / "reports"
    reports.mkdir()

    for form in ("text", "json", "sarif", "markdown", "html"):
        dry = run_fix("-I", inv, "fix", "--limit", HOST, "--dry-run", "--format", form)
        assert dry.returncode == 2, dry.stderr[-2000:]
        outputs[f"dry-run {form} stdout"], outputs[f"dry-run {form} stderr"] = dry.stdout, dry.stderr
    planned = last_json(outputs["dry-run json stdout"])
    assert [e["kind"] for e in planned["plan"]][:1] == ["issue"], planned["plan"]
    assert "LOG " in outputs["dry-run json stderr"]  # DEBUG records were written, and are searched

    with ArgvSampler() as sampler:
        done = run_fix(
            "-I", inv, "fix", "--limit", HOST, "-y", "--format", "json", "--output", str(reports / "fix.json")
        )
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    outputs["apply stdout"], outputs["apply stderr"] = done.stdout, done.stderr
    report = (reports / "fix.json").read_text()
    outputs["apply report"] = report
    assert {e["outcome"] for e in last_json(report)["plan"] if e["kind"] != "unfixable"} == {"applied"}
    assert sampler.saw("certbot"), "no sample caught certbot running: the argv check proved nothing"
    assert sampler.saw("mailcert-apply"), (
        "no sample caught the host-side switch: the argv check proved nothing"
    )

    on_host = host_files(lab, (STATE_DIR, "/var/log", "/var/lib/letsencrypt"))
    on_host.update({k: v for k, v in host_files(lab, ("/etc/letsencrypt",)).items() if CREDENTIALS not in k})
    assert any("/runs/" in name for name in on_host), "fix left no run records to search"
    for what, canary in canaries.items():
        leaks = [name for name, text in outputs.items() if canary in text]
        leaks += [f"argv: {cmd[:200]}" for cmd in sampler.saw(canary)]
        leaks += [name for name, data in on_host.items() if canary.encode() in data]
        assert leaks == [], f"the {what} canary leaked into: {leaks}"
    assert credentials.read_text().endswith(f"{canaries['dns-file']}\n")  # the file itself, untouched
