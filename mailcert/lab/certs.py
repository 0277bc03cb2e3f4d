"""Certificates for lab hosts: the healthy one each host starts with, and the broken ones faults plant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailcert.lab.layout import Issued, LabHost, current_lineage_version, write_lineage
from mailcert.lab.pki import LEAF_DAYS, LabCA, PrivateKey, issue_leaf, new_key


@dataclass(frozen=True)
class HostPKI:
    """What a host's certificate work needs: the lab CA, the clock, the ACME server certbot would use."""

    ca: LabCA
    now: dt.datetime
    acme_server: str

    def issue(
        self,
        names: tuple[str, ...] | list[str],
        *,
        key: PrivateKey | None = None,
        age_days: int = 1,
        days: int = LEAF_DAYS,
    ) -> Issued:
        """A leaf from the lab intermediate, issued `age_days` ago and valid for `days`."""
        key = key or new_key()
        not_before = self.now - dt.timedelta(days=age_days)
        leaf = issue_leaf(
            self.ca.intermediate,
            list(names),
            key,
            not_before=not_before,
            not_after=not_before + dt.timedelta(days=days),
        )
        return Issued(leaf=leaf, chain=(self.ca.intermediate.cert,), key=key)

    def install_healthy(self, host: LabHost) -> None:
        """A lineage (version 1) covering all the host's names, as a fresh certbot run leaves it."""
        write_lineage(
            host, self.issue(host.hostnames), 1, server=self.acme_server, key_group=_key_group(host)
        )

    def renew(self, host: LabHost, issued: Issued) -> None:
        """Store `issued` as the lineage's next version, as `certbot renew` does (no hooks run here)."""
        version = current_lineage_version(host) + 1
        write_lineage(host, issued, version, server=self.acme_server, key_group=_key_group(host))


def _key_group(host: LabHost) -> str | None:
    from mailcert.lab.kinds import kind_named

    return kind_named(host.kind).key_group
