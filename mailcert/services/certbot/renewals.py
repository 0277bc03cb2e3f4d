"""When certbot last renewed each lineage, from its files (the host report's `renewals`, and so the
Prometheus textfile's mailcert_last_renewal_timestamp_seconds)."""

from __future__ import annotations

from datetime import UTC, datetime

from mailcert.facts import HostFiles
from mailcert.model import LineageRenewal
from mailcert.services.certbot.model import Lineage
from mailcert.services.certbot.parser import DEFAULT_CONFIG_DIR, read_certbot


def _renewed_at(files: HostFiles, lineage: Lineage) -> datetime | None:
    current = [v for v in lineage.versions if lineage.leaf_der is not None and v.leaf_der == lineage.leaf_der]
    newest = current[-1] if current else max(lineage.versions, key=lambda v: v.number, default=None)
    if newest is not None:
        mtime = files.stat(newest.cert_path).mtime
        if mtime is not None:
            return datetime.fromtimestamp(mtime, UTC)
    # No archive file time: the certificate's own notBefore is when the CA issued it.
    return lineage.not_before


def last_renewals(files: HostFiles, config_dir: str = DEFAULT_CONFIG_DIR) -> list[LineageRenewal]:
    """Each lineage with a readable certificate and when certbot wrote it, by lineage name."""
    renewals = []
    for lineage in read_certbot(files, config_dir).lineages:
        when = _renewed_at(files, lineage)
        if when is not None:
            renewals.append(LineageRenewal(lineage.name, when))
    return sorted(renewals, key=lambda r: r.lineage)


__all__ = ["LineageRenewal", "last_renewals"]
