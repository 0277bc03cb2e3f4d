"""`verify --renew-dry-run`: ask certbot on each host whether a renewal would work right now.

`certbot renew --dry-run --no-random-sleep-on-renew` talks to the ACME server's staging path and saves
nothing. A failure becomes renewal.not-configured (the renewal is not working) with certbot's reason.
"""

from __future__ import annotations

import re
from typing import Protocol

from mailcert.model import Finding, Severity
from mailcert.ssh import RemoteOutput

RENEW_DRY_RUN = ["certbot", "renew", "--dry-run", "--no-random-sleep-on-renew"]
DRY_RUN_TIMEOUT = 600

_FAILED = re.compile(r"Failed to renew certificate (?P<lineage>\S+) with error: (?P<error>.+)")
_NOISE = re.compile(r"^(Saving debug log|Ask for help|See the logfile|- - -|-{3,}|\s*$)")


class RootRunner(Protocol):
    def execute_as_root(self, argv: list[str], *, timeout: int = ...) -> RemoteOutput: ...


def _finding(message: str) -> Finding:
    return Finding(
        check="renewal.not-configured",
        severity=Severity.WARNING,
        message=message,
        fix="run `certbot renew --dry-run` on the host, fix the error it reports (challenge reachable from "
        "the ACME server, DNS, account, rate limits), and check again with `mailcert verify --renew-dry-run`",
    )


def _reason(output: RemoteOutput) -> str:
    lines = [ln.strip() for ln in (output.stderr + "\n" + output.stdout).splitlines()]
    useful = [ln for ln in lines if ln and not _NOISE.match(ln)]
    for line in useful:
        if "error" in line.lower() or "could not" in line.lower() or "another instance" in line.lower():
            return line
    return useful[-1] if useful else f"exit status {output.exit_status}, no output"


def dry_run_findings(output: RemoteOutput) -> list[Finding]:
    """Findings from one host's `certbot renew --dry-run` output; none when every renewal would work."""
    text = output.stdout + "\n" + output.stderr
    if output.exit_status == 127 or "certbot: command not found" in text or "certbot: not found" in text:
        return [
            _finding("certbot is not installed (or not on root's PATH): `certbot renew --dry-run` cannot run")
        ]
    failed = {m.group("lineage"): m.group("error").strip() for m in _FAILED.finditer(text)}
    if failed:
        return [
            _finding(f"`certbot renew --dry-run` fails for lineage {name}: {error}")
            for name, error in sorted(failed.items())
        ]
    if output.exit_status != 0:
        return [_finding(f"`certbot renew --dry-run` failed: {_reason(output)}")]
    return []


def renew_dry_run(conn: RootRunner) -> list[Finding]:
    """Run the dry run as root over `conn` (mailcert.ssh.StrictConnection) and judge its output."""
    return dry_run_findings(conn.execute_as_root(RENEW_DRY_RUN, timeout=DRY_RUN_TIMEOUT))
