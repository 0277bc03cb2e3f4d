"""When certbot last renewed each lineage (mailcert_last_renewal_timestamp_seconds), read from a host tree
laid out as certbot 2.x lays it out: the time certbot wrote the certificate live/ points at."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from mailcert.model import LineageRenewal
from mailcert.services.certbot.renewals import last_renewals
from tests.data.certbot.tree import LE, CertbotTree
from tests.pki import TestPKI


def test_last_renewal_is_when_the_current_archive_version_was_written(tmp_path: Path) -> None:
    tree = CertbotTree(tmp_path, TestPKI("Renewals"))
    periods = (
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 5, 31, tzinfo=UTC)),
    )
    tree.lineage("mail.example.test", periods=periods)
    tree.lineage("old.example.test")
    renewed = datetime(2026, 3, 2, 4, 17, tzinfo=UTC).timestamp()
    os.utime(
        tree.path(f"{LE}/archive/mail.example.test/cert1.pem"),
        (1, datetime(2026, 1, 1, tzinfo=UTC).timestamp()),
    )
    os.utime(tree.path(f"{LE}/archive/mail.example.test/cert2.pem"), (1, renewed))
    os.utime(tree.path(f"{LE}/archive/old.example.test/cert1.pem"), (1, 1767225600))  # 2026-01-01T00:00Z
    assert last_renewals(tree.files) == [
        LineageRenewal("mail.example.test", datetime(2026, 3, 2, 4, 17, tzinfo=UTC)),
        LineageRenewal("old.example.test", datetime(2026, 1, 1, tzinfo=UTC)),
    ]


def test_no_certbot_no_renewals(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    assert last_renewals(CertbotTree(tmp_path, TestPKI("Empty")).files) == []
