"""Exim on a lab host: the real Debian Exim that scripts/install-exim extracts under /opt/mailcert/exim.

The exim4 package conflicts with postfix, so the binary is not at /usr/sbin/exim4 on the machine: the
host's mount namespace overlays /opt/mailcert/exim/usr/sbin onto /usr/sbin, and the daemon runs with
Debian's compiled-in paths (/etc/exim4/exim4.conf, /var/spool/exim4, /var/log/exim4, /run/exim4).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
from pathlib import Path

from mailcert.lab import LabError
from mailcert.lab.kinds.base import MailService
from mailcert.lab.layout import LabHost, write_text
from mailcert.lab.procs import RecordedProcess
from mailcert.lab.services import InHost

EXIM_TREE = Path(os.environ.get("MAILCERT_EXIM_ROOT", "/opt/mailcert/exim"))
EXIM_CONF = "/etc/exim4/exim4.conf"
EXIM_PID = "/run/exim4/exim.pid"
EXIM_USER = "Debian-exim"


def installed() -> bool:
    """True when scripts/install-exim has put a usable Exim under /opt/mailcert/exim."""
    return (EXIM_TREE / "usr/sbin/exim4").is_file() and (EXIM_TREE / ".mailcert-exim-installed").exists()


def _ids() -> tuple[int, int, int]:
    try:
        return pwd.getpwnam(EXIM_USER).pw_uid, grp.getgrnam(EXIM_USER).gr_gid, grp.getgrnam("adm").gr_gid
    except KeyError as exc:
        raise LabError(
            f"system user {EXIM_USER} is missing", todo="run `sudo sh scripts/install-exim`"
        ) from exc


def prepare(host: LabHost) -> None:
    """Debian's /etc/exim4 and Exim's own folders, owned as exim4-base's postinst makes them."""
    uid, gid, adm = _ids()
    target = host.path("/etc/exim4")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(EXIM_TREE / "etc/exim4", target, symlinks=True)
    for folder, owner, group, mode in (
        ("/var/spool/exim4", uid, gid, 0o750),
        ("/var/spool/exim4/db", uid, gid, 0o750),
        ("/var/spool/exim4/input", uid, gid, 0o750),
        ("/var/spool/exim4/msglog", uid, gid, 0o750),
        ("/var/log/exim4", uid, adm, 0o2750),
        ("/run/exim4", uid, gid, 0o750),
    ):
        path = host.path(folder)
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, owner, group)
        path.chmod(mode)


def exim_conf(host: LabHost) -> str:
    live = f"/etc/letsencrypt/live/{host.lineage}"
    return (
        "# Exim on a mailcert lab host (monolithic configuration, read instead of the split conf.d)\n"
        f"primary_hostname = {host.fqdn}\n"
        "exim_path = /usr/sbin/exim4\n"
        "spool_directory = /var/spool/exim4\n"
        "log_file_path = /var/log/exim4/%slog\n"
        "never_users = root\n"
        "keep_environment =\n"
        "\n"
        "# TLS: STARTTLS on 25 and 587, implicit TLS (SMTPS) on 465\n"
        "daemon_smtp_ports = 25 : 465 : 587\n"
        "tls_on_connect_ports = 465\n"
        "tls_advertise_hosts = *\n"
        f"tls_certificate = {live}/fullchain.pem\n"
        f"tls_privatekey = {live}/privkey.pem\n"
        "\n"
        "acl_smtp_rcpt = acl_check_rcpt\n"
        "\n"
        "begin acl\n"
        "\n"
        "acl_check_rcpt:\n"
        "  accept  hosts = : 127.0.0.1\n"
        "  deny    message = relay not permitted\n"
        "\n"
        "begin routers\n"
        "\n"
        "begin transports\n"
    )


def configure(host: LabHost) -> None:
    write_text(host.path(EXIM_CONF), exim_conf(host))
    _, gid, _ = _ids()
    os.chown(host.path(EXIM_CONF), 0, gid)


def start(shell: InHost) -> RecordedProcess:
    shell.start_daemon(
        ["/usr/sbin/exim4", "-bd", "-q30m", "-oP", EXIM_PID],
        what="starting exim",
        log=Path("/var/log/exim4-start.log"),
    )
    return shell.pid_from_file(EXIM_PID, "exim")


def reload(shell: InHost) -> None:
    """SIGHUP: Exim re-executes /usr/sbin/exim4 and reads its configuration and certificate again."""
    pid = shell.running_pid(EXIM_PID)
    if pid is None:
        raise LabError(f"{shell.host.name}: exim is not running", where=EXIM_PID)
    os.kill(pid, signal.SIGHUP)


def running(shell: InHost) -> bool:
    return shell.running_pid(EXIM_PID) is not None


EXIM = MailService(
    name="exim",
    bind_dirs=("/var/spool/exim4",),
    ports={25: "starttls", 587: "starttls", 465: "implicit"},
    reload_command='kill -HUP "$(cat /run/exim4/exim.pid)"',
    prepare=prepare,
    configure=configure,
    start=start,
    reload=reload,
    running=running,
    overlays=((str(EXIM_TREE / "usr/sbin"), "/usr/sbin"),),
    key_group=EXIM_USER,
)
