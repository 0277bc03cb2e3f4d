"""Debian 13 hosts (Postfix 3.10, Dovecot 2.4, OpenSSL 3.5, OpenSSH 10, certbot 4.0 from the root that
scripts/install-debian13 builds) against Debian 12 hosts with the same faults, in one lab.

Every fault of the lab catalogue that can exist on Dovecot 2.4 is planted on a `debian13` host and on its
`postfix-dovecot` twin (the cpanel-* faults need cPanel hosts). `dovecot-missing-lt` cannot exist on 2.4
(its ssl_server_cert_file takes the path itself); its mirror image `dovecot-file-lt` (a `<` carried over from
2.3, which 2.4 refuses) is the Debian 13 host's fault, twinned with `dovecot-missing-lt` on Debian 12. Plus a
healthy Debian 13 host and one with several faults at once. Then one audit and ONE `fix -y` over all of
them, a re-probe by two TLS stacks and a second dry run.

Same expectations: the Debian 13 host's findings and the kinds of change fix plans for it are those of its
twin; after fix every (port, name) a client uses verifies, none is worse than before, the Dovecot 2.4 config
holds only 2.4 names (never `ssl_cert`, never a `<` on a *_file setting) and the real `doveconf` accepts it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailcert.lab import lifecycle
from mailcert.lab.faults import FAULTS
from mailcert.lab.kinds.dovecot import SSL_CONF
from mailcert.lab.systemroot import debian13_installed, debian13_root
from tests.lab.clients import EndpointVerdict, fleet_verdicts
from tests.lab.fixture import Lab, LabManager, own_lab
from tests.lab.test_fix_apply import fix_inventory
from tests.lab.test_fix_cli import report_of

MAILCERT = str(Path(sys.executable).parent / "mailcert")
MIRRORS = {"dovecot-file-lt": "dovecot-missing-lt"}  # Debian 13's fault → its Debian 12 counterpart
FAULT_NAMES = tuple(
    name
    for name in FAULTS
    if not name.startswith("cpanel-") and name not in MIRRORS and name not in MIRRORS.values()
)
SEVERAL = ("leaf-only", "wrong-mode-587", "self-signed", "no-deploy-hook", "stale")
FORKS = 16


@dataclass(frozen=True)
class Twins:
    fault: str
    debian13: str
    debian12: str

    @property
    def fault12(self) -> str:
        return MIRRORS.get(self.fault, self.fault)


# Kinds alternate (debian13, postfix-dovecot, ...): fault i is on mx(2i+1) (Debian 13) and mx(2i+2) (Debian 12).
TWINS = [Twins(fault, f"mx{2 * i + 1}", f"mx{2 * i + 2}") for i, fault in enumerate([*FAULT_NAMES, *MIRRORS])]
SAME_FAULT = [t for t in TWINS if t.fault not in MIRRORS]
HEALTHY_13 = f"mx{2 * len(TWINS) + 1}"
SEVERAL_13 = f"mx{2 * len(TWINS) + 3}"
HOSTS = 2 * len(TWINS) + 3
DEBIAN13_HOSTS = [t.debian13 for t in TWINS] + [HEALTHY_13, SEVERAL_13]
BY_FAULT = pytest.mark.parametrize("twins", TWINS, ids=[t.fault for t in TWINS])
BY_SAME_FAULT = pytest.mark.parametrize("twins", SAME_FAULT, ids=[t.fault for t in SAME_FAULT])
BY_HOST = pytest.mark.parametrize("host", DEBIAN13_HOSTS)


def fault_spec() -> str:
    planted = [f"{t.debian13}:{t.fault},{t.debian12}:{t.fault12}" for t in TWINS]
    planted += [f"{SEVERAL_13}:{fault}" for fault in SEVERAL]
    return ",".join(planted)


@dataclass
class Run:
    lab: Lab
    audit: dict[str, Any]
    ssl_conf_before: dict[str, list[str]]  # each Debian 13 host's 10-ssl.conf lines before fix
    before: dict[str, dict[tuple[int, str], EndpointVerdict]]
    after: dict[str, dict[tuple[int, str], EndpointVerdict]]
    fix: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    again: dict[str, Any]


def mailcert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAILCERT, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=1500, check=False
    )


def client_view(lab: Lab) -> dict[str, dict[tuple[int, str], EndpointVerdict]]:
    return fleet_verdicts({h.name: (h.address, h.hostnames) for h in lab.hosts}, str(lab.ca_bundle))


@pytest.fixture(scope="module")
def run(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if not debian13_installed():  # as root `make test` has built it: missing means broken, not skipped
        pytest.fail(
            f"no Debian 13 root in {debian13_root()} although running as root: run scripts/install-debian13"
        )
    lab_dir = own_lab(lab_manager, tmp_path_factory.mktemp("debian13") / "lab")
    up = lifecycle.up(lab_dir, HOSTS, fault_spec(), ["debian13", "postfix-dovecot"], say=lambda _: None)
    try:
        lab = Lab(up.lab_dir, up.hosts)
        inventory = str(fix_inventory(lab, tmp_path_factory.mktemp("debian13-inventory")))
        audited = mailcert("-I", inventory, "audit", "--forks", str(FORKS), "--format", "json")
        (lab_dir.parent / "audit.json").write_text(audited.stdout)  # kept for looking into a failure
        audit = report_of(audited)
        ssl_conf = {name: lab.host(name).path(SSL_CONF).read_text().splitlines() for name in DEBIAN13_HOSTS}
        before = client_view(lab)
        fix = mailcert("-I", inventory, "fix", "-y", "--forks", str(FORKS), "--format", "json")
        (lab_dir.parent / "fix.json").write_text(fix.stdout)
        after = client_view(lab)
        again = report_of(
            mailcert("-I", inventory, "fix", "--dry-run", "--forks", str(FORKS), "--format", "json")
        )
        yield Run(lab, audit, ssl_conf, before, after, fix, report_of(fix), again)
    finally:
        lifecycle.down(lab_dir, say=lambda _: None)


def findings(report: dict[str, Any], host: str) -> list[dict[str, Any]]:
    return next((h["findings"] for h in report.get("hosts", []) if h["name"] == host), [])


def found(report: dict[str, Any], host: str) -> list[str]:
    """Which checks a host fails, as `check service`, sorted. Files and names differ between hosts, and so may
    how a check's findings are grouped over ports: endpoints are grouped by the server's words, which can
    vary per connection (a daemon that fails TLS resets some connections and closes others)."""
    return sorted({f"{f['check']} {f.get('service') or ''}" for f in findings(report, host)})


def plan(report: dict[str, Any], host: str) -> list[dict[str, Any]]:
    return [e for e in report.get("plan", []) if e["host"] == host]


def in_host(lab: Lab, host: str, *command: str) -> str:
    done = lab.exec(host, *command)
    assert done.returncode == 0, f"{host}: {' '.join(command)}: {done.stderr.strip()}"
    return done.stdout.strip()


# -- the hosts are what they say ------------------------------------------------------------------------------
def test_debian13_hosts_run_debian13s_daemons_and_debian12_hosts_their_own(run: Run) -> None:
    twin = TWINS[0]
    assert in_host(run.lab, twin.debian13, "postconf", "-h", "mail_version").startswith("3.10.")
    assert in_host(run.lab, twin.debian13, "dovecot", "--version").startswith("2.4.")
    assert in_host(run.lab, twin.debian13, "openssl", "version").startswith("OpenSSL 3.5.")
    assert in_host(run.lab, twin.debian13, "cat", "/etc/debian_version").startswith("13.")
    assert in_host(run.lab, twin.debian12, "postconf", "-h", "mail_version").startswith("3.7.")
    assert in_host(run.lab, twin.debian12, "dovecot", "--version").startswith("2.3.")


# -- the audit ------------------------------------------------------------------------------------------------
def test_a_healthy_debian13_host_has_no_findings(run: Run) -> None:
    assert run.audit.get("hosts"), run.audit.get("unreadable")
    assert found(run.audit, HEALTHY_13) == []


@BY_SAME_FAULT
def test_each_fault_is_found_on_debian13_as_on_debian12(run: Run, twins: Twins) -> None:
    assert found(run.audit, twins.debian12), f"{twins.fault}: nothing found on the Debian 12 host"
    assert found(run.audit, twins.debian13) == found(run.audit, twins.debian12)


def test_a_lt_on_a_dovecot_24_file_setting_is_found_where_it_is(run: Run) -> None:
    (twins,) = [t for t in TWINS if t.fault == "dovecot-file-lt"]
    (finding,) = findings(run.audit, twins.debian13)
    assert (finding["check"], finding["service"], finding["file"]) == (
        "config.syntax",
        "dovecot",
        "/etc/dovecot/conf.d/10-ssl.conf",
    )
    line = run.ssl_conf_before[twins.debian13][finding["line"] - 1]
    assert line.startswith("ssl_server_cert_file = </etc/letsencrypt/live/")
    # Debian 12's counterpart breaks its clients at once (2.3 reads the path as PEM); 2.4 refused the config.
    assert "config.dovecot-missing-lt" in [f["check"] for f in findings(run.audit, twins.debian12)]


# -- the fix --------------------------------------------------------------------------------------------------
def test_the_fix_run_leaves_every_host_ok(run: Run) -> None:
    assert "Traceback" not in run.fix.stderr, run.fix.stderr[-3000:]
    assert run.fix.returncode == 0, run.fix.stdout[-3000:] + run.fix.stderr[-3000:]


@BY_FAULT
def test_fix_plans_the_same_kinds_of_change_on_debian13_as_on_debian12(run: Run, twins: Twins) -> None:
    def kinds(host: str) -> list[str]:
        """What fix changes (a probe finding it leaves to a person, `unfixable`, is not a change)."""
        return sorted(e["kind"] for e in plan(run.report, host) if e["kind"] != "unfixable")

    assert kinds(twins.debian13), f"{twins.fault}: fix planned nothing on Debian 13"
    assert kinds(twins.debian13) == kinds(twins.debian12)


@BY_HOST
def test_every_endpoint_a_client_uses_verifies_after_fix_and_none_is_worse(run: Run, host: str) -> None:
    before, after = run.before[host], run.after[host]
    failing = {
        f"{port} {name}": f"python: {v.python.reason}; openssl: {v.openssl.reason}"
        for (port, name), v in sorted(after.items())
        if not v.verified
    }
    worse = {
        f"{port} {name}": lost
        for (port, name), v in after.items()
        if (lost := v.worse_than(before[(port, name)]))
    }
    assert failing == {}
    assert worse == {}


@BY_HOST
def test_dovecot_24_config_holds_only_24_names_after_fix_and_doveconf_accepts_it(run: Run, host: str) -> None:
    config = in_host(run.lab, host, "doveconf", "-n")
    assert "ssl_server {" in config or "ssl_server_cert_file" in config
    old_names = []
    for path in sorted(run.lab.host(host).path("/etc/dovecot").rglob("*.conf")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            setting = line.split("#", 1)[0].strip()
            name, _, value = setting.partition("=")
            if name.strip() in ("ssl_cert", "ssl_key", "ssl_ca", "ssl_alt_cert", "ssl_alt_key"):
                old_names.append(f"{path.name}:{number}: {line}")
            if name.strip().endswith("_file") and value.strip().startswith("<"):
                old_names.append(f"{path.name}:{number}: {line}")
    assert old_names == []


@BY_HOST
def test_a_second_dry_run_plans_nothing(run: Run, host: str) -> None:
    assert [(e["kind"], e["description"]) for e in plan(run.again, host) if e["kind"] != "unfixable"] == []
    assert found(run.again, host) == []
