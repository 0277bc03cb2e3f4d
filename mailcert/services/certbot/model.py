"""certbot's state on one host, as read from its files: lineages, hooks, and what schedules `certbot renew`."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

_SEQUENCE = re.compile(r"^(?P<base>.+)-(?P<number>\d{4})$")


class HookStage(enum.StrEnum):
    PRE = "pre"
    DEPLOY = "deploy"
    POST = "post"


@dataclass(frozen=True)
class Hook:
    """One thing certbot runs around a renewal: a file in renewal-hooks/STAGE/ or a saved command.

    `source` is the hook file's path, or the file that saves the command (renewal/NAME.conf, cli.ini)
    with `setting` naming the key ("renew_hook" is where `--deploy-hook` is saved). `runs` is False for
    a hook file certbot skips (not executable, or its name ends in "~"). `reloads` holds the services the
    hook reloads or restarts ("postfix", "dovecot", "exim", ...) and POSTMAP_F when it runs `postmap -F`;
    it includes what a script called by absolute path does.
    """

    stage: HookStage
    source: str
    text: str | None
    runs: bool
    reloads: frozenset[str]
    setting: str | None = None
    mode: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ArchiveVersion:
    """archive/NAME/certN.pem: one certificate the lineage has held (N grows with every renewal)."""

    number: int
    cert_path: str
    leaf_der: bytes | None
    not_after: datetime | None


@dataclass(frozen=True)
class Lineage:
    """One certificate lineage: live/NAME/ and archive/NAME/, described by renewal/NAME.conf.

    `renewal_conf` is None for a live/ directory certbot has no renewal conf for (never renewed).
    `conf_error` says why `certbot renew` skips this lineage (no renewal conf, broken conf, missing file
    reference); `cert_error` why the live certificate could not be read. The live
    paths come from the conf when it names them, else from the standard layout. `names`, `not_before`,
    `not_after` and `leaf_der` describe the current live certificate. `version` is the certbot version
    that last wrote the conf.
    """

    name: str
    config_dir: str
    renewal_conf: str | None
    cert: str
    chain: str
    fullchain: str
    privkey: str
    archive_dir: str
    names: tuple[str, ...] = ()
    not_before: datetime | None = None
    not_after: datetime | None = None
    leaf_der: bytes | None = None
    versions: tuple[ArchiveVersion, ...] = ()
    hooks: tuple[Hook, ...] = ()
    authenticator: str | None = None
    server: str | None = None
    key_type: str | None = None
    reuse_key: bool = False
    autorenew: bool = True
    renew_before_expiry: str | None = None
    version: str | None = None
    webroot_map: tuple[tuple[str, str], ...] = ()
    manual_auth_hook: str | None = None
    conf_error: str | None = None
    cert_error: str | None = None

    @property
    def live_dir(self) -> str:
        return f"{self.config_dir}/live/{self.name}"

    @property
    def renew_hook(self) -> str | None:
        """The saved `--deploy-hook` command (renewalparams renew_hook)."""
        return next((h.text for h in self.hooks if h.setting == "renew_hook"), None)

    @property
    def base_name(self) -> str:
        """The name without a `-NNNN` suffix: mail.example.com-0001 -> mail.example.com."""
        match = _SEQUENCE.match(self.name)
        return match.group("base") if match else self.name

    @property
    def sequence(self) -> int:
        """0 for NAME, 1 for NAME-0001, ..."""
        match = _SEQUENCE.match(self.name)
        return int(match.group("number")) if match else 0


@dataclass(frozen=True)
class RenewalSchedule:
    """Something that runs `certbot renew`: a cron line or a systemd timer unit.

    `runs` is False when it exists but will not fire: a Debian cron line guarded by
    `! -d /run/systemd/system` on a host booted with systemd, a timer that is masked or not enabled.
    `why_not` says why in that case.
    """

    kind: str  # "cron" | "systemd-timer"
    path: str
    line: int | None
    text: str
    runs: bool = True
    why_not: str | None = None


@dataclass(frozen=True)
class RenewalFailure:
    """A "Failed to renew certificate NAME with error: ..." line from certbot's log."""

    lineage: str
    when: str
    error: str
    log_file: str


@dataclass(frozen=True)
class CertbotState:
    """Everything mailcert knows about certbot on a host.

    `installed` is None when the host's files do not show whether certbot is installed (no bin
    directories at all, as in a config-only tree); likewise `schedule_known` is False when neither cron
    nor systemd directories exist. `hooks` are the renewal-hooks/ files and cli.ini hooks, which apply
    to every lineage; lineage-specific hooks are in `Lineage.hooks`.
    """

    config_dir: str
    lineages: tuple[Lineage, ...] = ()
    hooks: tuple[Hook, ...] = ()
    schedules: tuple[RenewalSchedule, ...] = ()
    schedule_known: bool = True
    installed: bool | None = None
    certbot_paths: tuple[str, ...] = ()
    certbot_version: str | None = None
    failures: tuple[RenewalFailure, ...] = ()

    def lineage(self, name: str) -> Lineage | None:
        return next((lineage for lineage in self.lineages if lineage.name == name), None)

    @property
    def renewal_scheduled(self) -> bool:
        return any(schedule.runs for schedule in self.schedules)
