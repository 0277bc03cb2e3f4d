"""Build a host tree (ROOT/etc/letsencrypt/...) laid out exactly as certbot 2.x lays it out.

live/NAME/X.pem are relative symlinks ../../archive/NAME/XN.pem to the newest version; renewal/NAME.conf
follows the format of the recorded real confs in tests/data/certbot/recorded/.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from mailcert.hostfs import LocalRoot
from tests.pki import END, START, Issued, TestPKI, cert_pem

RECORDED = Path(__file__).parent / "recorded"
LE = "/etc/letsencrypt"


class CertbotTree:
    """A host's / in a temporary directory, with helpers to add certbot lineages, hooks and schedules."""

    def __init__(self, root: Path, pki: TestPKI) -> None:
        self.root = root
        self.pki = pki
        for sub in (
            "live",
            "archive",
            "renewal",
            "renewal-hooks/pre",
            "renewal-hooks/deploy",
            "renewal-hooks/post",
        ):
            (root / "etc/letsencrypt" / sub).mkdir(parents=True, exist_ok=True)

    @property
    def files(self) -> LocalRoot:
        return LocalRoot(self.root)

    def path(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def write(self, host_path: str, content: str | bytes, mode: int = 0o644) -> Path:
        local = self.path(host_path)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(content.encode() if isinstance(content, str) else content)
        local.chmod(mode)
        return local

    def lineage(
        self,
        name: str,
        sans: Sequence[str] = ("mail.example.test",),
        *,
        periods: Sequence[tuple[datetime, datetime]] = ((START, END),),
        params: Mapping[str, str] | None = None,
        version: str = "2.1.0",
        conf: bool = True,
    ) -> list[Issued]:
        """A lineage with one archive version per (not_before, not_after) period; live/ points at the last."""
        issued: list[Issued] = []
        archive = self.path(f"{LE}/archive/{name}")
        archive.mkdir(parents=True, exist_ok=True)
        for number, (not_before, not_after) in enumerate(periods, start=1):
            leaf = self.pki.leaf(sans, not_before=not_before, not_after=not_after)
            issued.append(leaf)
            (archive / f"cert{number}.pem").write_bytes(leaf.pem)
            (archive / f"chain{number}.pem").write_bytes(cert_pem(self.pki.intermediate.cert))
            (archive / f"fullchain{number}.pem").write_bytes(self.pki.bundle(leaf))
            (archive / f"privkey{number}.pem").write_bytes(leaf.key_pem())
            (archive / f"privkey{number}.pem").chmod(0o600)
        live = self.path(f"{LE}/live/{name}")
        live.mkdir(parents=True, exist_ok=True)
        for role in ("cert", "chain", "fullchain", "privkey"):
            link = live / f"{role}.pem"
            if link.is_symlink():
                link.unlink()
            os.symlink(f"../../archive/{name}/{role}{len(periods)}.pem", link)
        if conf:
            self.write(f"{LE}/renewal/{name}.conf", renewal_conf(name, params or {}, version))
        return issued

    def hook(self, stage: str, name: str, text: str, mode: int = 0o755) -> str:
        path = f"{LE}/renewal-hooks/{stage}/{name}"
        self.write(path, text, mode)
        return path

    def debian_schedule(self, *, systemd_booted: bool = False, timer_enabled: bool | None = None) -> None:
        """Debian's certbot package: /etc/cron.d/certbot and certbot.timer (recorded), optionally enabled."""
        self.write("/etc/cron.d/certbot", (RECORDED / "cron.d-certbot").read_bytes())
        self.write("/lib/systemd/system/certbot.timer", (RECORDED / "certbot.timer").read_bytes())
        if timer_enabled is not None:
            wants = self.path("/etc/systemd/system/timers.target.wants")
            wants.mkdir(parents=True, exist_ok=True)
            if timer_enabled:
                os.symlink("/lib/systemd/system/certbot.timer", wants / "certbot.timer")
        if systemd_booted:
            self.path("/run/systemd/system").mkdir(parents=True, exist_ok=True)

    def install_certbot(self, version: str = "2.1.0") -> None:
        self.write("/usr/bin/certbot", "#!/usr/bin/python3\n", 0o755)
        self.write(
            "/usr/lib/python3/dist-packages/certbot/__init__.py",
            f'"""Certbot client."""\n__version__ = \'{version}\'\n',
        )


def renewal_conf(name: str, params: Mapping[str, str], version: str = "2.1.0") -> str:
    """A renewal conf as certbot writes it (compare recorded/renewal-certbot-2.1.0.conf)."""
    live = f"{LE}/live/{name}"
    lines = [
        "# renew_before_expiry = 30 days",
        f"version = {version}",
        f"archive_dir = {LE}/archive/{name}",
        f"cert = {live}/cert.pem",
        f"privkey = {live}/privkey.pem",
        f"chain = {live}/chain.pem",
        f"fullchain = {live}/fullchain.pem",
        "",
        "# Options used in the renewal process",
        "[renewalparams]",
        "account = e312d83a72d0debd05af75d10f5b6ad4",
        *(f"{key} = {value}" for key, value in params.items()),
        "server = https://acme-v02.api.letsencrypt.org/directory",
        "authenticator = standalone",
        "key_type = ecdsa",
    ]
    return "\n".join(lines) + "\n"


def days(n: int) -> timedelta:
    return timedelta(days=n)
