"""Plan `fix` on a local host tree exactly as `fix` does on an audited host, and "apply" a plan to the tree
(files written, chmod done, certbot's issue/renew simulated with the test PKI) to re-lint it afterwards."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from mailcert.audit.lint import LintOptions, lint_host_model
from mailcert.checks.certs import CheckOptions
from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.fix.plan.planner import plan_from
from mailcert.fix.roles import RoleSet
from mailcert.hostfs import LocalRoot
from mailcert.inventory.model import InventoryHost
from mailcert.model import HostReport, Severity
from mailcert.pki.trust import TrustStore
from tests.inventory_hosts import host_from_vars
from tests.lint_trees import NAMES, HostTree
from tests.pki import NOW, TestPKI

EMAIL = "postmaster@example.test"


def inventory_host(names: list[str] | None = None, **kwargs: object) -> InventoryHost:
    """Host mx1 at 127.0.0.1 with `names`; `vars=` (what the inventory writes) goes through the loader's
    build_host, the other keywords set InventoryHost fields."""
    variables = kwargs.pop("vars", None)
    settings: dict[str, object] = {"acme_email": EMAIL}
    settings.update(kwargs)
    base = (
        InventoryHost(name="mx1", address="127.0.0.1") if variables is None else host_from_vars(variables)  # type: ignore[arg-type]
    )
    return replace(base, hostnames=tuple(names or NAMES), **settings)  # type: ignore[arg-type]


def lint(tree: HostTree, pki: TestPKI, names: list[str], at: datetime = NOW) -> tuple[HostReport, object]:
    opts = CheckOptions(now=at, trust=TrustStore.of([pki.root.cert]))
    return lint_host_model(
        LocalRoot(tree.root), name="mx1", options=LintOptions(checks=opts, hostnames=names)
    )


def plan(
    tree: HostTree,
    pki: TestPKI,
    host: InventoryHost | None = None,
    *,
    at: datetime = NOW,
    roles: RoleSet | None = None,
) -> HostPlan:
    host = host or inventory_host()
    report, model = lint(tree, pki, list(host.hostnames), at)
    return plan_from(LocalRoot(tree.root), model, report, host, now=at, roles=roles)  # type: ignore[arg-type]


def problems(report: HostReport) -> set[tuple[str, str | None]]:
    return {
        (f.check, f.service) for f in report.findings if f.severity in (Severity.CRITICAL, Severity.WARNING)
    }


TIMER_ON = ("systemctl", "enable", "--now")


def apply_locally(tree: HostTree, pki: TestPKI, plan: HostPlan) -> None:
    """What the applier does, on a local tree: ISSUE via the test PKI, files written, chmod run, a timer
    enabled."""
    for change in plan.changes:
        if change.kind is ChangeKind.ISSUE:
            assert change.command is not None
            _certbot(tree, pki, list(change.command.argv))
        elif change.file is not None:
            target = tree.path(change.file.path)
            if change.file.before is not None:
                assert target.read_text() == change.file.before, f"{change.file.path} changed under the plan"
            tree.write(
                change.file.path, change.file.after, mode=change.file.mode or (target.stat().st_mode & 0o7777)
            )
        elif change.kind is ChangeKind.COMMAND and change.command and change.command.argv[0] == "chmod":
            for host_path in change.command.argv[2:]:
                os.chmod(tree.path(host_path), int(change.command.argv[1], 8))
        elif change.kind is ChangeKind.COMMAND and change.command and change.command.argv[:3] == TIMER_ON:
            wants = tree.path(f"/etc/systemd/system/timers.target.wants/{change.command.argv[3]}")
            wants.parent.mkdir(parents=True, exist_ok=True)
            wants.symlink_to(f"/usr/lib/systemd/system/{change.command.argv[3]}")


def _certbot(tree: HostTree, pki: TestPKI, argv: list[str]) -> None:
    name = argv[argv.index("--cert-name") + 1]
    archive = tree.path(f"/etc/letsencrypt/archive/{name}")
    numbers = [
        int(m.group(1)) for p in archive.glob("cert*.pem") if (m := re.match(r"cert(\d+)\.pem", p.name))
    ]
    names = [argv[i + 1] for i, word in enumerate(argv) if word == "-d"]
    if argv[1] == "renew":
        from tests.lint_trees import LINEAGE

        assert name == LINEAGE, "the tests renew only the tree's own lineage"
        names = list(NAMES)
    tree.lineage(name, pki.leaf(names), version=max(numbers, default=0) + 1)


def without_letsencrypt(tree: HostTree, pki: TestPKI, *, self_signed: bool = True) -> None:
    """A host before certbot: a self-signed certificate in /etc/ssl, no /etc/letsencrypt at all."""
    leaf = pki.leaf(["mx1.internal"], self_signed=self_signed)
    tree.write("/etc/ssl/certs/mail.pem", leaf.pem)
    tree.write("/etc/ssl/private/mail.key", leaf.key_pem(), mode=0o600)
    live = "/etc/letsencrypt/live/mail.example.test"
    tree.edit("/etc/postfix/main.cf", f"{live}/fullchain.pem", "/etc/ssl/certs/mail.pem")
    tree.edit("/etc/postfix/main.cf", f"{live}/privkey.pem", "/etc/ssl/private/mail.key")
    tree.edit("/etc/dovecot/dovecot.conf", f"<{live}/fullchain.pem", "</etc/ssl/certs/mail.pem")
    tree.edit("/etc/dovecot/dovecot.conf", f"<{live}/privkey.pem", "</etc/ssl/private/mail.key")
    shutil.rmtree(tree.path("/etc/letsencrypt"))


def read(tree: HostTree, host_path: str) -> str:
    return Path(tree.path(host_path)).read_text()
