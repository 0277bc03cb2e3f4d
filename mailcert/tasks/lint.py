"""`mailcert lint ROOT`: check a copy of a mail host's filesystem (or `/`) offline — no network."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mailcert.tasks.declare import task
from mailcert.tasks.options import COMMON_HELP, check_options, emit, wants_color
from mailcert.tasks.state import run_state

if TYPE_CHECKING:
    from invoke.context import Context


@task(
    positional=("root",),
    iterable=("hostname", "role", "ca_bundle"),
    help={
        "root": "folder that stands for the host's / (holding etc/postfix, etc/dovecot, etc/letsencrypt, ...)",
        "hostname": "a name clients use; every TLS service must cover it (repeatable; default: names in the config)",
        "role": "postfix, dovecot, exim or cpanel (repeatable; default: detected from the files present)",
        "name": "host name to show in the report (default: ROOT)",
        "require-files": "a certificate or key file the tree does not hold is missing (critical), as on a host; "
        "default: a tree holding none of them is config-only and says so per file (info)",
        **{k.replace("-", "_"): v for k, v in COMMON_HELP.items()},
    },
)
def lint(
    c: Context,
    root: str,
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
) -> None:
    """Check the TLS configuration, certificates and keys of a host's files, offline."""
    # Imported here, not above: `--help` reads only the declaration (mailcert.tasks.direct).
    from mailcert.audit.lint import LintOptions, lint_host
    from mailcert.hostfs import LocalRoot
    from mailcert.model import Report
    from mailcert.report import check_format, render
    from mailcert.services.registry import check_role_names

    check_format(format)
    checks = check_options(at, ca_bundle or [], warn_days, crit_days)
    files = LocalRoot(root)
    options = LintOptions(
        checks=checks,
        hostnames=list(hostname) if hostname else None,
        roles=check_role_names(role) if role else None,
        tree=not require_files and files.root != Path("/"),  # `lint /` is the host itself
    )
    host = lint_host(files, name=name or str(Path(root)), options=options)
    report = Report(generated_at=datetime.now(UTC), evaluated_at=checks.now, hosts=(host,))
    emit(render(report, format, color=wants_color(output)), output)
    run_state().record("lint", report)
