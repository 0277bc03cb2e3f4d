"""Faults on the host in the middle of `mailcert fix`, on real lab daemons: the disk full where fix writes,
and certbot killed (SIGKILL) while it issues against the lab's Pebble.

Each ends with the host's files byte-identical to before (every file's sha256, owner and mode, read
inside the host), one line in the report saying why, the exit code SPEC gives for a host still critical
(2), and a next run that plans (and, for certbot, completes) the same work."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import HOST, STATE_DIR, fix_inventory
from tests.lab.test_fix_cli import MAILCERT, last_json, mailcert

WAIT = 300  # seconds before a test gives up waiting for the host (a failure, never a pass)


def host_sh(lab: Lab, script: str) -> str:
    """Run a POSIX sh script as root inside the lab host; its stdout (a failure raises with stderr)."""
    done = lab.exec(HOST, "sh", "-c", script)
    assert done.returncode == 0, f"on {HOST}: {script!r}: {done.stdout} {done.stderr}"
    return done.stdout


def tree_state(lab: Lab, folder: str) -> list[str]:
    """Every entry under `folder` as the host sees it (its mounts, not the lab's files): type, mode, owner,
    size and sha256 of each file, link targets."""
    q = shlex.quote(folder)
    listing = host_sh(
        lab,
        f"cd {q} && find . -print0 | sort -z | xargs -0 stat -c '%n %F %a %u %g %s %N' && "
        f"find . -type f -print0 | sort -z | xargs -0 sha256sum",
    )
    return listing.splitlines()


def plan_without_outcomes(report: Any, host: str = HOST) -> list[dict[str, object]]:
    return [
        {k: v for k, v in entry.items() if k not in ("outcome", "error")}
        for entry in report["plan"]
        if entry["host"] == host
    ]


# -- disk full where fix writes ----------------------------------------------------------------------
FILLER = "zz-mailcert-test-filler"


@contextmanager
def full_folder(lab: Lab, folder: str) -> Iterator[None]:
    """`folder` inside the host becomes a small tmpfs holding a copy of its files (the daemons go on
    reading them), filled until not one byte is free. Unmounted afterwards, whatever happened: the lab's
    own files under it were never touched, and the fixture's reset reloads the daemons from them."""
    q = shlex.quote(folder)
    try:
        # sized to twice what the folder holds plus 1 MiB: earlier runs' records in a state folder must fit
        host_sh(
            lab,
            "set -e\n"
            "copy=$(mktemp -d /run/mailcert-test-full.XXXXXX)\n"
            f'cp -a {q}/. "$copy"/\n'
            f'size=$(( $(du -sk "$copy" | cut -f1) * 2 + 1024 ))k\n'
            f"mount -t tmpfs -o size=$size,mode=$(stat -c %a {q}) mailcert-test-full {q}\n"
            f'cp -a "$copy"/. {q}/\n'
            'rm -rf "$copy"\n'
            f"dd if=/dev/zero of={q}/{FILLER} bs=4096 2>/dev/null || true\n"
            f'[ "$(df -B1 --output=avail {q} | tail -n 1 | tr -d " ")" = 0 ]\n',
        )
        yield
    finally:  # also when filling it failed: a full folder left mounted would fail every later test
        lab.exec(HOST, "sh", "-c", f"umount {q} || umount -l {q}")
        mounts = host_sh(lab, "cat /proc/mounts")
        assert f" {folder} tmpfs " not in mounts, f"the test tmpfs on {folder} is still mounted"


def test_disk_full_where_fix_writes_leaves_the_host_byte_identical_and_says_why(
    lab: Lab, tmp_path: Path
) -> None:
    lab.plant(HOST, "leaf-only")  # the plan: edit /etc/postfix/main.cf, reload postfix
    inventory = str(fix_inventory(lab, tmp_path))
    with full_folder(lab, "/etc/postfix"):
        shot = tree_state(lab, "/etc/postfix")
        assert any(FILLER in line for line in shot)
        plan = _planned(inventory)
        assert any(e.get("path") == "/etc/postfix/main.cf" for e in plan), plan

        done = mailcert("-I", inventory, "fix", "--limit", HOST, "-y", "--format", "json")

        assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]  # still critical (SPEC)
        assert tree_state(lab, "/etc/postfix") == shot  # no byte, no temp file, no mode changed
        error = _one_error(done.stdout, "rolled-back")
        assert error.startswith("cannot write /etc/postfix/main.cf: No space left on device"), error
        assert _planned(inventory) == plan  # the next run plans the same change


def test_disk_full_where_fix_keeps_its_backups_changes_nothing_and_says_why(lab: Lab, tmp_path: Path) -> None:
    lab.plant(HOST, "leaf-only")
    inventory = str(fix_inventory(lab, tmp_path))
    lab.exec(HOST, "mkdir", "-p", STATE_DIR)
    with full_folder(lab, STATE_DIR):
        shot = tree_state(lab, "/etc/postfix")
        plan = _planned(inventory)

        done = mailcert("-I", inventory, "fix", "--limit", HOST, "-y", "--format", "json")

        assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
        assert tree_state(lab, "/etc/postfix") == shot
        error = _one_error(done.stdout, "skipped")
        assert "No space left on device" in error, error
        assert _planned(inventory) == plan


def _planned(inventory: str) -> list[dict[str, object]]:
    planned = mailcert("-I", inventory, "fix", "--limit", HOST, "--dry-run", "--format", "json")
    assert planned.returncode == 2, planned.stderr
    return plan_without_outcomes(json.loads(planned.stdout))


def _one_error(stdout: str, outcome: str) -> str:
    """The one reason every step of the host's plan carries, after checking they all ended as `outcome`."""
    report = last_json(stdout)
    entries = [e for e in report["plan"] if e["host"] == HOST and e["kind"] != "unfixable"]
    assert entries and {e["outcome"] for e in entries} == {outcome}, entries
    errors = {e.get("error") for e in entries}
    assert len(errors) == 1, errors
    [error] = errors
    assert isinstance(error, str) and "\n" not in error
    assert "restore by hand" not in error and "could not restore" not in error, error
    return error


# -- certbot killed mid-issue ------------------------------------------------------------------------
PID_FILE = "/run/mailcert-test-certbot.pid"
HOLD_HOOK = "zz-mailcert-test-hold"
# A renewal hook (certbot runs every executable in renewal-hooks/pre before asking the ACME server for the
# certificate, and in renewal-hooks/deploy after saving it): it finds its certbot among its ancestors,
# says its pid, and waits until certbot is gone (or gives up after WAIT s).
HOLD_SCRIPT = f"""#!/bin/sh
pid=$PPID
while [ "$pid" -gt 1 ] && ! tr '\\000' ' ' <"/proc/$pid/cmdline" | grep -q 'bin/certbot .*renew'; do
    pid=$(awk '/^PPid:/ {{print $2}}' "/proc/$pid/status")
done
printf '%s\\n' "$pid" >{PID_FILE}.tmp && mv {PID_FILE}.tmp {PID_FILE}
waited=0
while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt {WAIT * 10} ]; do sleep 0.1; waited=$((waited + 1)); done
"""


def live_lineage(lab: Lab) -> dict[str, str]:
    """What live/NAME/*.pem point at, each checked whole: one version for all four, fullchain = cert +
    chain, the key matching the certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    host = lab.host(HOST)
    live = host.path(f"/etc/letsencrypt/live/{host.lineage}")
    targets = {
        kind: str((live / f"{kind}.pem").readlink()) for kind in ("cert", "chain", "fullchain", "privkey")
    }
    versions = {"".join(ch for ch in Path(t).stem if ch.isdigit()) for t in targets.values()}
    assert len(versions) == 1, f"live/ points at several versions: {targets}"
    data = {kind: (live / f"{kind}.pem").read_bytes() for kind in targets}
    assert data["fullchain"] == data["cert"] + data["chain"] or data["fullchain"].startswith(data["cert"])
    cert = x509.load_pem_x509_certificate(data["cert"])
    key = serialization.load_pem_private_key(data["privkey"], password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    assert key.public_key().public_bytes(der, spki) == cert.public_key().public_bytes(der, spki)
    return targets


def config_sums(lab: Lab) -> dict[str, str]:
    """sha256 and mode of every file of the host's mail configuration (Postfix, Dovecot)."""
    import hashlib

    sums = {}
    for folder in ("/etc/postfix", "/etc/dovecot"):
        for path in sorted(lab.host(HOST).path(folder).rglob("*")):
            if path.is_file() and not path.is_symlink():
                sums[str(path)] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_mode:o}"
    return sums


@pytest.mark.parametrize("where", ["pre", "deploy"])
def test_certbot_killed_mid_issue_changes_no_config_and_the_next_run_completes(
    lab: Lab, tmp_path: Path, where: str
) -> None:
    """pre: killed before it asks Pebble for the certificate; deploy: killed after saving the new
    certificate, before it returns."""
    lab.plant(HOST, "expired")  # the plan renews the lineage with certbot first, then reloads
    inventory = str(fix_inventory(lab, tmp_path))
    planned = last_json(
        mailcert("-I", inventory, "fix", "--limit", HOST, "--dry-run", "--format", "json").stdout
    )
    assert [e["kind"] for e in planned["plan"]][:1] == ["issue"], planned["plan"]
    configs = config_sums(lab)
    lineage = live_lineage(lab)
    pid_file = lab.host(HOST).path(PID_FILE)
    pid_file.unlink(missing_ok=True)
    hook = lab.host(HOST).path(f"/etc/letsencrypt/renewal-hooks/{where}/{HOLD_HOOK}")
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(HOLD_SCRIPT)
    hook.chmod(0o755)
    try:
        run = subprocess.Popen(
            [MAILCERT, "-I", inventory, "fix", "--limit", HOST, "-y", "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            deadline = time.monotonic() + WAIT
            while not pid_file.exists():
                assert run.poll() is None, f"fix ended before certbot reached the hook: {run.communicate()}"
                assert time.monotonic() < deadline, f"certbot did not reach the {where} hook within {WAIT} s"
                time.sleep(0.1)
            certbot = int(pid_file.read_text())
            assert "certbot" in Path(f"/proc/{certbot}/cmdline").read_bytes().decode(errors="replace")
            os.kill(certbot, signal.SIGKILL)
            out, err = run.communicate(timeout=WAIT)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
    finally:
        hook.unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)

    assert run.returncode == 2, out[-2000:] + err[-2000:]  # SPEC: the host is still critical
    assert config_sums(lab) == configs  # no config file touched
    after = live_lineage(lab)  # whole, whichever version it is
    if where == "pre":
        assert after == lineage  # nothing was saved
    report = last_json(out)
    entries = [e for e in report["plan"] if e["host"] == HOST and e["kind"] != "unfixable"]
    issue = next(e for e in entries if e["kind"] == "issue")
    assert issue["outcome"] == "failed", entries
    assert "\n" not in issue["error"] and "certbot was killed (SIGKILL)" in issue["error"], issue["error"]
    assert {e["outcome"] for e in entries if e["kind"] != "issue"} == {"skipped"}, entries

    again = mailcert("-I", inventory, "fix", "--limit", HOST, "-y", "--format", "json")

    assert again.returncode in (0, 1), again.stdout[-2000:] + again.stderr[-2000:]
    report = last_json(again.stdout)
    done = [e for e in report["plan"] if e["host"] == HOST and e["kind"] != "unfixable"]
    assert {e["outcome"] for e in done} <= {"applied"}, done
    if where == "pre":
        assert any(e["kind"] == "issue" for e in done), done  # the renewal, planned and done this time
    [host] = [h for h in report["hosts"] if h["name"] == HOST]
    assert [f["check"] for f in host["findings"] if f["severity"] == "critical"] == []
    assert live_lineage(lab) != lineage  # a new certificate, served
