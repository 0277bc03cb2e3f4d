"""Options shared by the checking tasks (--at, --ca-bundle, --format, --output), turned into values once."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mailcert.errors import UsageError

if TYPE_CHECKING:
    from mailcert.checks.certs import CheckOptions

FORMAT_HELP = "text (default), json, sarif, markdown or html"

COMMON_HELP = {
    "format": FORMAT_HELP,
    "output": "write the report to this file instead of standard output",
    "at": "evaluate validity and expiry as of this instant (ISO-8601, e.g. 2027-01-31T00:00:00Z) instead of now",
    "ca-bundle": "extra trusted roots (PEM), for private CAs; repeatable",
    "warn-days": "warn when a certificate expires within this many days (default 21)",
    "crit-days": "critical when it expires within this many days (default 7)",
}


def parse_at(value: str | None, *, now: datetime | None = None) -> datetime:
    """The evaluation instant: --at when given (naive means UTC), else the current time."""
    if not value:
        return now or datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--at {value!r} is not an ISO-8601 instant", todo="write e.g. 2027-01-31T00:00:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def check_options(
    at: str | None, ca_bundles: Sequence[str], warn_days: int | str = 21, crit_days: int | str = 7
) -> CheckOptions:
    # Imported here: the tasks' `--help` imports this module for COMMON_HELP, and needs no certificates.
    from mailcert.checks.certs import CheckOptions
    from mailcert.pki.trust import TrustStore

    try:
        warn, crit = int(warn_days), int(crit_days)
    except ValueError:
        raise UsageError("--warn-days and --crit-days take whole numbers of days") from None
    if crit > warn:
        raise UsageError(
            f"--crit-days {crit} is larger than --warn-days {warn}",
            todo="critical must come later than warning",
        )
    return CheckOptions(
        now=parse_at(at), trust=TrustStore.load(list(ca_bundles)), warn_days=warn, crit_days=crit
    )


def emit(text: str, output: str | None) -> None:
    """Print the report, or write it atomically to --output (a half-written report is never left behind)."""
    if not output:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    import tempfile  # only with --output

    target = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}."
        )
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(target)
    except OSError as exc:
        raise UsageError(
            f"cannot write {output}: {exc.strerror or exc}", todo="choose a writable --output path"
        ) from None


def wants_color(output: str | None) -> bool:
    return output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
