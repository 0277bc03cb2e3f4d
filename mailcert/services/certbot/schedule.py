"""Whether anything runs `certbot renew` on the host, and whether certbot is installed at all."""

from __future__ import annotations

import re

from mailcert.facts import HostFiles
from mailcert.services.certbot.hooks import simple_commands
from mailcert.services.certbot.model import RenewalSchedule

CERTBOT_BINARIES = (
    "/usr/bin/certbot",
    "/usr/local/bin/certbot",
    "/snap/bin/certbot",
    "/usr/local/bin/certbot-auto",
)
_BIN_DIRS = ("/usr/bin", "/usr/local/bin", "/snap/bin")
_CRON_FILES = ("/etc/crontab", "/var/spool/cron/crontabs/root", "/var/spool/cron/root")
_CRON_DIRS = ("/etc/cron.d",)
_RUN_PARTS_DIRS = ("/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly")
_TIMER_UNITS = ("certbot.timer", "certbot-renew.timer", "snap.certbot.renew.timer")
_UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
_WANTS = "/etc/systemd/system/timers.target.wants"
_SYSTEMD_GUARD = re.compile(r"!\s*-d\s+/run/systemd/system")
_VERSION = re.compile(r"""^__version__\s*=\s*['"]([0-9][0-9A-Za-z.]*)['"]""", re.MULTILINE)
_VERSION_FILES = (
    "/usr/lib/python3/dist-packages/certbot/__init__.py",
    "/snap/certbot/current/lib/python3*/site-packages/certbot/__init__.py",
    "/usr/lib/python3*/site-packages/certbot/__init__.py",
    "/usr/local/lib/python3*/dist-packages/certbot/__init__.py",
)


def read_schedules(files: HostFiles) -> tuple[tuple[RenewalSchedule, ...], bool]:
    """Cron lines and systemd timers that run `certbot renew`, and whether the host shows either at all."""
    systemd_booted = files.is_dir("/run/systemd/system")
    schedules: list[RenewalSchedule] = []
    cron_paths = [p for p in _CRON_FILES if files.exists(p)]
    for directory in _CRON_DIRS:
        # cron (Debian) ignores names with dots or a trailing "~" (certbot.dpkg-dist, backups)
        cron_paths += [p for p in files.glob(f"{directory}/*") if "." not in p.rsplit("/", 1)[1]]
    for path in cron_paths:
        schedules += _cron_lines(files, path, systemd_booted)
    for directory in _RUN_PARTS_DIRS:
        for path in files.glob(f"{directory}/*"):
            facts = files.stat(path)
            if facts.mode is not None and facts.mode & 0o111 and not path.endswith("~"):
                schedules += _cron_lines(files, path, systemd_booted, script=True)
    schedules += _timers(files)
    known = bool(cron_paths) or any(files.is_dir(d) for d in (*_CRON_DIRS, *_RUN_PARTS_DIRS, *_UNIT_DIRS))
    return tuple(schedules), known


def _cron_lines(
    files: HostFiles, path: str, systemd_booted: bool, *, script: bool = False
) -> list[RenewalSchedule]:
    text = files.read_config(path).text
    if text is None:
        return []
    found: list[RenewalSchedule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or not _calls_certbot_renew(line):
            continue
        guarded = bool(_SYSTEMD_GUARD.search(line))
        runs = not (guarded and systemd_booted)
        why_not = "the line only runs when the host is not booted with systemd (it is)" if not runs else None
        kind = "cron" if not script else "cron-script"
        found.append(RenewalSchedule(kind, path, number, line, runs=runs, why_not=why_not))
    return found


def _calls_certbot_renew(line: str) -> bool:
    for words in simple_commands(line):
        programs = [i for i, w in enumerate(words) if w.rsplit("/", 1)[-1] in ("certbot", "certbot-auto")]
        if any("renew" in words[i + 1 :] for i in programs):
            return True
    return False


def _timers(files: HostFiles) -> list[RenewalSchedule]:
    found: list[RenewalSchedule] = []
    wants_known = files.is_dir(_WANTS)
    wanted = set(files.listdir(_WANTS))  # the enabling symlinks, whether or not their target was copied
    for unit in _TIMER_UNITS:
        paths = [
            f"{d}/{unit}"
            for d in _UNIT_DIRS
            if files.exists(f"{d}/{unit}") or _is_masked(files, f"{d}/{unit}")
        ]
        if not paths and unit in wanted:
            paths = [f"{_WANTS}/{unit}"]
        if not paths:
            continue
        path = paths[0]  # /etc/systemd/system overrides the vendor unit, as systemd does
        if _is_masked(files, path):
            found.append(
                RenewalSchedule("systemd-timer", path, None, unit, runs=False, why_not=f"{unit} is masked")
            )
        elif wants_known and unit not in wanted:
            why = f"{unit} is installed but not enabled (no {_WANTS}/{unit})"
            found.append(RenewalSchedule("systemd-timer", path, None, unit, runs=False, why_not=why))
        else:
            found.append(RenewalSchedule("systemd-timer", path, None, unit))
    return found


def _is_masked(files: HostFiles, path: str) -> bool:
    return files.stat(path).resolved == "/dev/null"


def find_certbot(files: HostFiles) -> tuple[bool | None, tuple[str, ...], str | None]:
    """Whether certbot is installed (None: the files cannot tell), where, and its version if a file says."""
    paths = tuple(p for p in CERTBOT_BINARIES if files.exists(p))
    version: str | None = None
    for pattern in _VERSION_FILES:
        for path in files.glob(pattern) if "*" in pattern else [pattern]:
            text = files.read_config(path).text
            match = _VERSION.search(text or "")
            if match:
                version = match.group(1)
                break
        if version:
            break
    if paths:
        return True, paths, version
    if any(files.is_dir(d) for d in _BIN_DIRS):
        return False, (), version
    return None, (), version
