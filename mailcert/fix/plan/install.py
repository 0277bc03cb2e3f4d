"""certbot missing on a host whose plan needs it: say how to install it, or (with `--install-certbot`) plan
the install with the host's own package manager, run before the certbot step.

The package manager is the one whose program the gathered facts show (/usr/bin/apt-get, /usr/bin/dnf,
/usr/bin/yum, in that order); /etc/os-release only names the system in messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailcert.facts import HostFiles
from mailcert.fix.model import Change, ChangeKind, Command

OS_RELEASE = "/etc/os-release"


@dataclass(frozen=True)
class PackageManager:
    name: str
    program: str  # where the gather program looks for it
    install: Command
    timer: str | None = None  # the renewal timer the package installs but leaves disabled


# Debian's certbot enables certbot.timer itself; Fedora's and EPEL's (RHEL, Alma, Rocky) ship
# certbot-renew.timer disabled, so an install there is followed by enabling it.
EPEL_TIMER = "certbot-renew.timer"
PACKAGE_MANAGERS = (
    PackageManager(
        "apt-get",
        "/usr/bin/apt-get",
        Command(("apt-get", "install", "-y", "-q", "certbot"), (("DEBIAN_FRONTEND", "noninteractive"),)),
    ),
    PackageManager("dnf", "/usr/bin/dnf", Command(("dnf", "install", "-y", "-q", "certbot")), EPEL_TIMER),
    PackageManager("yum", "/usr/bin/yum", Command(("yum", "install", "-y", "-q", "certbot")), EPEL_TIMER),
)
PACKAGE_PROGRAMS = tuple(m.program for m in PACKAGE_MANAGERS)


def package_manager(files: HostFiles) -> PackageManager | None:
    """The host's package manager, from the programs present; None when none of them is."""
    return next((m for m in PACKAGE_MANAGERS if files.exists(m.program)), None)


def system_name(files: HostFiles) -> str | None:
    """PRETTY_NAME (else ID) from /etc/os-release, for messages."""
    text = files.read_config(OS_RELEASE).text or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq:
            fields[key.strip()] = value.strip().strip("\"'")
    return fields.get("PRETTY_NAME") or fields.get("ID") or None


def install_hint(files: HostFiles) -> str:
    """The command an admin runs to install certbot on this host, in words."""
    manager = package_manager(files)
    if manager is not None:
        return f"`{manager.install.shown()}`"
    return "the system's package manager (`apt-get install certbot`, `dnf install certbot`)"


def unknown_manager_reason(files: HostFiles) -> str:
    system = system_name(files)
    return (
        "certbot is not installed and --install-certbot cannot install it: no apt-get, dnf or yum on the host"
        + (f" ({system})" if system else "")
        + "; install certbot by hand, then run fix again"
    )


def enable_timer(unit: str, why: str) -> Change:
    """Enable and start a certbot timer; a restore disables it again."""
    return Change(
        ChangeKind.COMMAND,
        f"enable {unit} so certbot renews ({why})",
        command=Command(("systemctl", "enable", "--now", unit)),
        service="certbot",
        undo=Command(("systemctl", "disable", "--now", unit)),
    )
