"""`review --against HOST`: a config tree's change judged with the live host as context.

The host is gathered once, read-only, exactly as `audit` gathers it. Each tree's files are laid over what was
gathered (the tree wins where it has a file; the host supplies everything else: certificates, keys, certbot's
lineages, hooks, timers), and the result is linted as a host is: with the host's real certificates, the
inventory's names and thresholds, and a file missing on the host is missing. Nothing is written on the host.

A file only the tree's new configuration names and the host's configuration did not is "not gathered": the
gather program collects what the host's own configuration uses, plus certbot's live/ and archive/.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from mailcert.audit.host import AuditSettings
from mailcert.audit.lint import Hostnames, LintOptions
from mailcert.audit.options import lint_options, trust_bundles
from mailcert.audit.review import HostReview, review_host
from mailcert.facts import FileFacts, HostFiles, TextFile
from mailcert.gather.host import GatheredHost
from mailcert.gather.remote import gather_host
from mailcert.gather.unfinished import state_folder
from mailcert.inventory.model import InventoryHost
from mailcert.model import Finding
from mailcert.ssh import StrictConnection


@dataclass(frozen=True)
class Overlay:
    """HostFiles: the tree's files where the tree has them, the gathered host's everywhere else."""

    tree: HostFiles
    host: HostFiles

    def _source(self, path: str) -> HostFiles:
        return self.tree if self.tree.exists(path) and not self.tree.is_dir(path) else self.host

    def read_config(self, path: str) -> TextFile:
        return self._source(path).read_config(path)

    def pem_file(self, path: str) -> FileFacts:
        return self._source(path).pem_file(path)

    def stat(self, path: str) -> FileFacts:
        return self._source(path).stat(path)

    def glob(self, pattern: str) -> list[str]:
        return sorted({*self.tree.glob(pattern), *self.host.glob(pattern)})

    def exists(self, path: str) -> bool:
        return self.tree.exists(path) or self.host.exists(path)

    def is_dir(self, path: str) -> bool:
        return self.tree.is_dir(path) or self.host.is_dir(path)

    def listdir(self, path: str) -> list[str]:
        return sorted({*self.tree.listdir(path), *self.host.listdir(path)})


def gather_read_only(host: InventoryHost, settings: AuditSettings) -> GatheredHost:
    """One gather round trip, as audit makes it (the gather program only reads)."""
    if host.become and host.become_password is None and settings.sudo_password is not None:
        host = replace(host, become_password=settings.sudo_password)
    conn = StrictConnection(host, timeout=settings.connect_timeout)
    try:
        return gather_host(conn, root=settings.gather_root, state_dir=state_folder(host))
    finally:
        conn.close()


def against_options(
    host: InventoryHost,
    settings: AuditSettings,
    *,
    hostnames: Hostnames | None = None,
    roles: Sequence[str] | None = None,
) -> LintOptions:
    """Lint options for the host as audit has them (audit/options.py: its names, roles, thresholds, CA
    bundles; its files required); names and roles given on the command line win."""
    trust = settings.trust_loader(list(trust_bundles(host, settings.ca_bundles)))
    options = lint_options(host, now=settings.now, trust=trust)
    return replace(
        options,
        hostnames=hostnames if hostnames is not None else options.hostnames,
        roles=roles if roles is not None else options.roles,
        tree=False,
    )


def review_against(
    base: HostFiles | None,
    head: HostFiles | None,
    gathered: GatheredHost,
    *,
    name: str,
    options: LintOptions,
    notes: tuple[Sequence[Finding], Sequence[Finding]] = ((), ()),
) -> HostReview:
    """The change from `base` to `head`, each laid over the gathered host (None: the host as it is), read the
    way the host's daemons read it: a Dovecot 2.3 config proposed for a Dovecot 2.4 host is refused there."""
    if gathered.versions:
        options = replace(options, versions={**options.versions, **gathered.versions})
    return review_host(
        Overlay(base, gathered) if base is not None else gathered,
        Overlay(head, gathered) if head is not None else gathered,
        name=name,
        options=options,
        notes=notes,
    )
