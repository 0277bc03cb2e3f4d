"""The plan `fix` shows and applies: per host, ordered changes, each saying which findings it removes.

The planner (pure) produces these from audit facts; the applier carries them out on the host. A plan
holds no secrets: commands carry arguments only, environment values that are secret are referenced by
name and filled in on the host side.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from mailcert.model import ClientView, Mode


class ChangeKind(enum.StrEnum):
    INSTALL = "install"  # install certbot with the host's package manager (--install-certbot; runs first)
    ISSUE = (
        "issue"  # certbot certonly: new lineage, expand names, renew (runs first; nothing else if it fails)
    )
    EDIT = "edit"  # rewrite an existing file (config line changed, line appended)
    CREATE = "create"  # a new file (deploy hook, rendered from roles/*/templates)
    COMMAND = "command"  # another command to run on the host (postmap -F, chmod)
    RELOAD = "reload"  # reload/restart a service after the files changed


class Outcome(enum.StrEnum):
    PLANNED = "planned"
    APPLIED = "applied"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class FileChange:
    """A whole-file replacement: `before` is None for a new file. `diff` is the unified diff shown to users."""

    path: str
    before: str | None
    after: str
    mode: int | None = None  # for new files; existing files keep their owner and mode
    owner: str | None = None
    group: str | None = None
    # An edit of a file the configuration names through a symbolic link: `path` is where the link led when
    # the plan was made (the file written), `link` the name the configuration uses (checked, never written).
    link: str | None = None

    @property
    def diff(self) -> str:
        import difflib

        before = [] if self.before is None else self.before.splitlines(keepends=True)
        after = self.after.splitlines(keepends=True)
        source = "/dev/null" if self.before is None else f"a{self.path}"
        return "".join(difflib.unified_diff(before, after, source, f"b{self.path}"))


@dataclass(frozen=True)
class Command:
    """A command run on the host as root, as an argument list (quoted by the applier, never by hand)."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()  # non-secret environment (e.g. REQUESTS_CA_BUNDLE=path)

    def shown(self) -> str:
        import shlex

        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        return (prefix + " " if prefix else "") + shlex.join(self.argv)


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    description: str  # one line in the admin's words: "point Dovecot ssl_cert at fullchain.pem (add '<')"
    removes: tuple[str, ...] = ()  # check IDs (with service:port) this change removes, for the report
    file: FileChange | None = None
    command: Command | None = None
    service: str | None = None  # the service a RELOAD/validation concerns
    outcome: Outcome = Outcome.PLANNED
    error: str | None = None
    # A COMMAND whose effect lies outside the files the switch writes (cPanel's API) names the command that
    # puts the previous state back: once it has succeeded, a restore runs `undo` (last first) instead of
    # running the command again, as it does for commands that rebuild from files (postmap -F).
    undo: Command | None = None


@dataclass(frozen=True)
class EndpointChange:
    """One (port, name) a client uses: what it was served before and what it gets after (expected by the
    plan, or seen by the re-probe), each with the client's verdict."""

    service: str
    port: int
    mode: Mode
    before: ClientView
    after: ClientView

    @property
    def hostname(self) -> str:
        return self.before.hostname

    @property
    def worse(self) -> bool:
        return self.after.verdict.rank > self.before.verdict.rank


@dataclass(frozen=True)
class HostPlan:
    """Everything `fix` would do on one host, in order. Empty `changes` = nothing to do (idempotence)."""

    host: str
    changes: tuple[Change, ...] = ()
    unfixable: tuple[str, ...] = ()  # findings no change can remove, with why ("needs DNS change", ...)
    run_id: str | None = None
    error: str | None = None
    validations: tuple[Command, ...] = field(default=())  # run after writing, before reloading
    # Per (port, name): served now → what the plan expects after (fix: the re-probe's view once applied)
    endpoints: tuple[EndpointChange, ...] = ()
    endpoints_from: str = "plan"  # "plan": expected; "re-probe": seen after the switch (kept or restored)

    @property
    def empty(self) -> bool:
        return not self.changes
