"""The planner on lab-shaped hosts: the lab's own configuration writers (Debian's main.cf/master.cf and
/etc/dovecot with conf.d includes) and the lab's own fault planters, certificates from a lab CA. For every
fault lint can see, the plan fixes it and a second plan is empty (the lab e2e test does the same on real
daemons with Pebble; this is its fast, pure half)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from mailcert.audit.lint import LintOptions, lint_host_model
from mailcert.checks.certs import CheckOptions
from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.fix.plan.planner import plan_from
from mailcert.hostfs import LocalRoot
from mailcert.lab.certs import HostPKI
from mailcert.lab.faults import FAULTS, FaultSite
from mailcert.lab.kinds import dovecot, postfix
from mailcert.lab.layout import LabHost, write_deploy_hook
from mailcert.lab.pki import make_ca
from mailcert.model import Severity
from mailcert.pki.trust import TrustStore
from tests.fix_trees import inventory_host

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SYSTEM_FILES = (
    "/usr/share/postfix/main.cf.debian",
    "/usr/share/postfix/master.cf.dist",
    "/etc/dovecot/conf.d",
)
pytestmark = pytest.mark.skipif(
    not all(os.path.exists(p) for p in SYSTEM_FILES) and os.geteuid() != 0,  # as root they must be there
    reason="needs Debian's postfix and dovecot-core files (scripts/install-system-deps installs them)",
)
# `stale` needs a running daemon to be seen (tls.stale comes from the probe): see test_fix_plan_services.
# cPanel's faults plant on cpanel hosts only: tests/unit/test_cpanel_plan.py and tests/lab/test_cpanel_audit.py.
# dovecot-file-lt is Dovecot 2.4's (this host has the machine's 2.3 /etc/dovecot): tests/lab/test_debian13.py.
LINT_VISIBLE = [
    name for name in FAULTS if name not in ("stale", "dovecot-file-lt") and not name.startswith("cpanel-")
]


@pytest.fixture(scope="module")
def pki() -> HostPKI:
    return HostPKI(ca=make_ca(NOW), now=NOW, acme_server="https://10.213.0.1:14000/dir")


@pytest.fixture
def host(tmp_path: Path, pki: HostPKI) -> LabHost:
    host = LabHost("mx1", "postfix-dovecot", "10.213.0.11", tmp_path)
    shutil.copytree("/etc/dovecot", host.path("/etc/dovecot"), ignore=shutil.ignore_patterns("private"))
    postfix.configure(host)
    dovecot.configure(host)
    pki.install_healthy(host)
    write_deploy_hook(host, ["postfix reload", "doveadm reload"])
    return host


def audit(host: LabHost, pki: HostPKI) -> tuple[object, object]:
    options = LintOptions(
        checks=CheckOptions(now=NOW, trust=TrustStore.of([pki.ca.root.cert])), hostnames=list(host.hostnames)
    )
    return lint_host_model(LocalRoot(host.root), name=host.name, options=options)


def lab_plan(host: LabHost, pki: HostPKI) -> HostPlan:
    report, model = audit(host, pki)
    inventory = inventory_host(list(host.hostnames), acme_server=pki.acme_server)
    return plan_from(LocalRoot(host.root), model, report, inventory, now=NOW)  # type: ignore[arg-type]


def problems(host: LabHost, pki: HostPKI) -> set[str]:
    report = audit(host, pki)[0]
    return {f.check for f in report.findings if f.severity in (Severity.CRITICAL, Severity.WARNING)}  # type: ignore[attr-defined]


def apply(host: LabHost, pki: HostPKI, plan: HostPlan) -> None:
    for change in plan.changes:
        if change.kind is ChangeKind.ISSUE:
            pki.renew(host, pki.issue(host.hostnames))  # what certbot leaves behind
        elif change.file is not None:
            path = host.path(change.file.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(change.file.after)
            if change.file.mode is not None:
                path.chmod(change.file.mode)


def test_healthy_lab_host_plans_nothing(host: LabHost, pki: HostPKI) -> None:
    assert problems(host, pki) == set()
    assert lab_plan(host, pki).changes == ()


@pytest.mark.parametrize("fault", LINT_VISIBLE)
def test_lab_fault_fixed_then_nothing_to_do(host: LabHost, pki: HostPKI, fault: str) -> None:
    FAULTS[fault].plant(FaultSite(host, pki))
    found = problems(host, pki)
    first = lab_plan(host, pki)
    assert first.error is None
    assert found and first.changes, f"{fault}: lint found {found}, planned {first.changes}"
    apply(host, pki, first)
    assert problems(host, pki) == set()
    assert lab_plan(host, pki).changes == ()


def test_certificate_faults_renew_or_expand_the_lab_lineage(host: LabHost, pki: HostPKI) -> None:
    FAULTS["name-mismatch"].plant(FaultSite(host, pki))
    first = lab_plan(host, pki)
    issue = first.changes[0]
    assert issue.kind is ChangeKind.ISSUE and issue.command is not None
    argv = issue.command.argv
    assert argv[argv.index("--cert-name") + 1] == host.lineage
    assert [argv[i + 1] for i, w in enumerate(argv) if w == "-d"] == list(host.hostnames)
    assert argv[argv.index("--server") + 1] == pki.acme_server and "--expand" in argv
