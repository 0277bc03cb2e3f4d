"""`fix --install-certbot` on a real lab host without certbot: the install step runs, with the host's package
manager, before the certbot step; when installing fails nothing else changes and the report says why.

On a Debian 12 host and on a Debian 13 host (certbot 4.0 in its root), same expectations.

A Debian 12 lab host shares the machine's /usr, a Debian 13 host the Debian 13 root's, so certbot is made
absent on ONE host only: an overlay on /usr/bin inside that host's mount namespace, with a whiteout for certbot
(the system's certbot package is never touched). The same overlay holds a TEST-ONLY FAKE `apt-get`
(FAKE_APT_GET below): it "installs" certbot by copying the host's system's real certbot program back into
/usr/bin, or fails the way apt-get fails."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import fix_inventory
from tests.lab.test_fix_cli import last_json, mailcert, tree_sums

HOST = "mx1"
REAL_COPY = "/etc/mailcert-test/certbot"  # the system's certbot program, copied into the host's own /etc
LOG = "/var/log/fake-apt-get.log"

# TEST-ONLY FAKE apt-get: never installed anywhere but the overlay of one lab host's /usr/bin.
FAKE_APT_GET = f"""#!/bin/sh
# TEST-ONLY FAKE apt-get (tests/lab/test_fix_install_certbot.py). certbot is hidden on this lab host by an
# overlay whiteout; "installing" it copies the system's real certbot program back into /usr/bin.
echo "$(date +%s.%N) apt-get $* DEBIAN_FRONTEND=${{DEBIAN_FRONTEND:-}}" >>{LOG}
case " $* " in
*" install "*" certbot "*) ;;
*) echo "E: this fake apt-get only installs certbot" >&2; exit 100 ;;
esac
echo "Reading package lists..."
cp {REAL_COPY} /usr/bin/certbot && chmod 755 /usr/bin/certbot || exit 100
echo "Setting up certbot (fake) ..."
"""
FAILING_APT_GET = f"""#!/bin/sh
# TEST-ONLY FAKE apt-get (tests/lab/test_fix_install_certbot.py): fails as apt-get does without package lists.
echo "$(date +%s.%N) apt-get $*" >>{LOG}
echo "Reading package lists..."
echo "Building dependency tree..."
echo "E: Unable to locate package certbot" >&2
exit 100
"""


def hide_certbot(lab: Lab, apt_get: str) -> Path:
    """Overlay the host's /usr/bin: certbot whited out, the fake apt-get in place. Returns the overlay folder."""
    folder = lab.dir / "hosts" / HOST / "usr-bin-overlay"
    upper, work = folder / "upper", folder / "work"
    upper.mkdir(parents=True)
    work.mkdir()
    os.mknod(upper / "certbot", 0o600 | stat.S_IFCHR, os.makedev(0, 0))  # overlayfs whiteout
    (upper / "apt-get").write_text(apt_get)
    (upper / "apt-get").chmod(0o755)
    real = lab.host(HOST).system_path("/usr/bin/certbot")  # the machine's, or the Debian 13 root's
    copy = lab.host(HOST).path(REAL_COPY)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(real, copy)
    options = f"lowerdir=/usr/bin,upperdir={upper},workdir={work}"
    mounted = lab.exec(HOST, "mount", "-t", "overlay", "overlay", "-o", options, "/usr/bin")
    assert mounted.returncode == 0, mounted.stderr
    assert lab.exec(HOST, "sh", "-c", "command -v certbot").returncode != 0
    assert real.exists()  # the system still has it
    return folder


@pytest.fixture
def lab(release_lab: Lab) -> Lab:
    """Every test here runs on a Debian 12 host and on a Debian 13 host."""
    return release_lab


@pytest.fixture
def without_certbot(lab: Lab, request: pytest.FixtureRequest) -> Iterator[Path]:
    lab.changed(HOST)  # reset afterwards: configs, lineage, hook
    folder = hide_certbot(lab, request.param)
    try:
        yield folder
    finally:
        lab.exec(HOST, "umount", "-l", "/usr/bin")
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(lab.host(HOST).path("/etc/mailcert-test"), ignore_errors=True)
        lab.host(HOST).path(LOG).unlink(missing_ok=True)


@pytest.mark.parametrize("without_certbot", [FAKE_APT_GET], indirect=True)
def test_install_certbot_runs_before_certbot_and_the_fault_is_fixed(
    lab: Lab, tmp_path: Path, without_certbot: Path
) -> None:
    lab.plant(HOST, "expired")  # the plan renews the lineage: it needs certbot
    inventory = str(fix_inventory(lab, tmp_path))

    plain = last_json(
        mailcert("-I", inventory, "fix", "--limit", HOST, "--dry-run", "--format", "json").stdout
    )
    assert not [e for e in plain["plan"] if e["kind"] in ("install", "issue")]
    assert any("certbot is not installed on the host" in e["description"] for e in plain["plan"])
    dry = mailcert(
        "-I", inventory, "fix", "--limit", HOST, "--dry-run", "--install-certbot", "--format", "json"
    )
    kinds = [e["kind"] for e in last_json(dry.stdout)["plan"]]
    assert kinds[:2] == ["install", "issue"], kinds
    assert last_json(dry.stdout)["plan"][0]["command"] == (
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q certbot"
    )
    assert not lab.host(HOST).path(LOG).exists()  # the dry run ran nothing

    done = mailcert("-I", inventory, "fix", "--limit", HOST, "-y", "--install-certbot", "--format", "json")

    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    report = last_json(done.stdout)
    steps = [(e["kind"], e["outcome"]) for e in report["plan"] if e["kind"] != "unfixable"]
    assert steps[:2] == [("install", "applied"), ("issue", "applied")], steps
    assert {outcome for _, outcome in steps} == {"applied"}
    log = lab.host(HOST).path(LOG).read_text().splitlines()
    assert len(log) == 1 and " apt-get install -y -q certbot DEBIAN_FRONTEND=noninteractive" in log[0]
    installed_at = float(log[0].split()[0])
    host = lab.host(HOST)
    newest = max(
        host.path(f"/etc/letsencrypt/archive/{host.lineage}").glob("cert*.pem"), key=os.path.getmtime
    )
    assert installed_at < newest.stat().st_mtime  # certbot wrote its certificate after the install
    assert lab.exec(HOST, "sh", "-c", "command -v certbot").returncode == 0
    version = lab.exec(HOST, "certbot", "--version")  # the release's own certbot runs on the host's Python
    assert version.returncode == 0 and version.stdout.startswith("certbot "), version.stdout + version.stderr
    critical = [f["check"] for h in report["hosts"] for f in h["findings"] if f["severity"] == "critical"]
    assert critical == []


@pytest.mark.parametrize("without_certbot", [FAILING_APT_GET], indirect=True)
def test_a_failed_install_changes_nothing_and_gives_apt_gets_reason(
    lab: Lab, tmp_path: Path, without_certbot: Path
) -> None:
    lab.plant(HOST, "expired")
    inventory = str(fix_inventory(lab, tmp_path))
    before = tree_sums(lab)

    done = mailcert("-I", inventory, "fix", "--limit", HOST, "-y", "--install-certbot", "--format", "json")

    assert tree_sums(lab) == before
    assert done.returncode == 2, done.stderr[-2000:]
    report = last_json(done.stdout)
    install = report["plan"][0]
    assert (install["kind"], install["outcome"]) == ("install", "failed")
    assert install["error"] == (
        "installing certbot failed (apt-get exit 100): E: Unable to locate package certbot (the package lists "
        "may be missing or old: run `apt-get update` on the host)"
    )
    rest = {e["outcome"] for e in report["plan"][1:] if e["kind"] != "unfixable"}
    assert rest == {"skipped"}
    assert len(lab.host(HOST).path(LOG).read_text().splitlines()) == 1
