"""`mailcert review BASE HEAD` / `review --git REV [HEAD]`: what a change to a config tree introduces."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mailcert.errors import UsageError
from mailcert.model import Finding, Report
from mailcert.tasks.declare import task
from mailcert.tasks.fleet import FLEET_HELP, SHORT_FLAGS, fleet_hosts, prompted_sudo_password
from mailcert.tasks.options import COMMON_HELP, check_options, emit
from mailcert.tasks.state import run_state

# The stages are imported inside the functions that use them: `mailcert TASK --help` and the start of a
# command import only these declarations (issue 23).
if TYPE_CHECKING:
    from invoke.context import Context

    from mailcert.inventory import InventoryHost


@task(
    iterable=("tree", "hostname", "role", "ca_bundle"),
    short=SHORT_FLAGS,
    help={
        "tree": "BASE and HEAD folders (each stands for the host's /); with --git only HEAD (default: .). "
        "`mailcert review BASE HEAD` passes them without the flag",
        "git": "BASE is HEAD's folder as this commit has it (e.g. the merge base); "
        "default when only one folder is given: HEAD, the last commit",
        "hostname": "a name clients use; every TLS service must cover it (repeatable; default: names in the config)",
        "role": "postfix, dovecot, exim or cpanel (repeatable; default: detected from the files present)",
        "name": "host name to show in the report (default: HEAD)",
        "require-files": "a certificate or key file a tree does not hold is missing (critical), as on a host",
        "against": "an inventory host: gather it once, read-only, lay each tree's files over what was gathered "
        "and lint that with the host's certificates, keys, lineages and names (nothing changes on the host)",
        "inventory": FLEET_HELP["inventory"] + "; for --against and --vars-from",
        "vars-from": "an inventory host whose variables render the trees' Jinja2 templates (X.j2 → X) before "
        "review (no SSH); --against does this with its host",
        **{k.replace("-", "_"): v for k, v in COMMON_HELP.items()},
        "format": "text (default), json, sarif or markdown",
    },
)
def review(
    c: Context,
    tree: list[str] | None = None,
    git: str | None = None,
    hostname: list[str] | None = None,
    role: list[str] | None = None,
    name: str | None = None,
    format: str = "text",
    output: str | None = None,
    at: str | None = None,
    ca_bundle: list[str] | None = None,
    warn_days: int = 21,
    crit_days: int = 7,
    require_files: bool = False,
    against: str | None = None,
    inventory: str | None = None,
    vars_from: str | None = None,
) -> None:
    """Lint a config tree before and after a change; report what the change introduces, removes and leaves."""
    from mailcert.audit.against import against_options, gather_read_only, review_against
    from mailcert.audit.host import AuditSettings
    from mailcert.audit.lint import LintOptions
    from mailcert.audit.options import hostnames_of
    from mailcert.audit.review import Review, review_host
    from mailcert.audit.templates import render_sides
    from mailcert.hostfs import LocalRoot
    from mailcert.inventory.templatevars import template_vars
    from mailcert.report.review import check_review_format, render_review
    from mailcert.services.registry import check_role_names

    fmt = check_review_format(format)
    checks = check_options(at, ca_bundle or [], warn_days, crit_days)
    trees = list(tree or [])
    if len(trees) > 2 or (git and len(trees) > 1):
        raise UsageError(
            "review takes BASE HEAD, or --git REV with at most one folder",
            todo="e.g. `mailcert review --git origin/main hosts/mx1`",
        )
    options = LintOptions(
        checks=checks,
        hostnames=list(hostname) if hostname else None,
        roles=check_role_names(role) if role else None,
        tree=not require_files,
    )
    with tempfile.TemporaryDirectory(prefix="mailcert-review-") as scratch:
        sides, labels, sarif_root = _trees(trees, git, Path(scratch))
        pattern = against or vars_from
        inventory_host = _one_host(c, inventory, pattern) if pattern else None
        notes: tuple[list[Finding], list[Finding]] = ([], [])
        if inventory_host is not None:
            sides, notes = render_sides(sides, Path(scratch), template_vars(inventory_host))
            if not hostname:  # the names clients use, as the inventory says
                options = replace(options, hostnames=hostnames_of(inventory_host))
        base, head = (LocalRoot(side) if side is not None else None for side in sides)
        if against and inventory_host is not None:
            settings = AuditSettings(
                now=checks.now, ca_bundles=tuple(ca_bundle or ()), sudo_password=prompted_sudo_password(c)
            )
            host_options = against_options(
                inventory_host, settings, hostnames=options.hostnames, roles=options.roles
            )
            gathered = gather_read_only(inventory_host, settings)
            host = review_against(
                base, head, gathered, name=name or inventory_host.name, options=host_options, notes=notes
            )
        else:
            host = review_host(base, head, name=name or labels[1], options=options, notes=notes)
    result = Review(
        generated_at=datetime.now(UTC),
        evaluated_at=checks.now,
        base_label=labels[0],
        head_label=labels[1],
        hosts=(host,),
    )
    emit(render_review(result, fmt, sarif_root=sarif_root), output)
    head_report = Report(generated_at=result.generated_at, evaluated_at=checks.now, hosts=(host.head,))
    run_state().record_status("review", head_report, result.status)


def _one_host(c: Context, inventory: str | None, pattern: str) -> InventoryHost:
    hosts = fleet_hosts(c, inventory, pattern)
    if len(hosts) != 1:
        raise UsageError(
            f"--against {pattern} matches {len(hosts)} inventory hosts",
            todo="name exactly one host of the inventory (-I PATH)",
        )
    return hosts[0]


def _trees(
    trees: list[str], git: str | None, scratch: Path
) -> tuple[list[Path | None], tuple[str, str], str | None]:
    """BASE and HEAD as local folders (None: the base commit lacks the folder), their labels, the SARIF root."""
    from mailcert.audit.git_tree import locate, tree_at
    from mailcert.hostfs import LocalRoot

    if len(trees) == 2:
        for tree in trees:
            LocalRoot(tree)  # a usage error for a folder that is not there, before any work
        sarif_root = trees[1] if not Path(trees[1]).is_absolute() else None
        return [Path(trees[0]), Path(trees[1])], (trees[0], trees[1]), sarif_root
    head = trees[0] if trees else "."
    LocalRoot(head)
    folder = locate(head)
    base, base_label = tree_at(folder, git or "HEAD", scratch / "base")
    return [base, Path(head)], (base_label, head), folder.prefix or None
