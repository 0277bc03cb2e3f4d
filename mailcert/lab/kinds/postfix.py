"""Postfix on a lab host: Debian's package defaults, submission (587) and submissions (465) enabled."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from mailcert.lab.kinds.base import MailService
from mailcert.lab.layout import LabHost, copy_system_tree, write_text
from mailcert.lab.procs import RecordedProcess
from mailcert.lab.services import InHost
from mailcert.lab.systemroot import group_id, user_id

MAIN_CF = "/etc/postfix/main.cf"
MASTER_CF = "/etc/postfix/master.cf"
MASTER_PID = "/var/spool/postfix/pid/master.pid"
MAILLOG = "/var/log/mail.log"
QUEUE_DIRS = (
    "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
    "maildrop", "saved", "trace", "private", "public", "pid",
)  # fmt: skip

# The -o options an admin keeps when uncommenting Debian's submission/submissions entries.
_KEPT_OPTIONS = {
    "submission": ("syslog_name", "smtpd_tls_security_level", "smtpd_reject_unlisted_recipient"),
    "submissions": ("syslog_name", "smtpd_tls_wrappermode", "smtpd_reject_unlisted_recipient"),
}


def prepare(host: LabHost) -> None:
    """Package defaults (meta files, queue skeleton) copied once per host; data dir owned by postfix."""
    copy_system_tree(str(host.system_path("/etc/postfix")), host.path("/etc/postfix"))
    spool = host.path("/var/spool/postfix")
    copy_system_tree(str(host.system_path("/var/spool/postfix")), spool)
    # The machine's own queue (mail, sockets, pid files) is not the host's: keep only the folders.
    for queue in QUEUE_DIRS:
        folder = spool / queue
        if folder.is_dir():
            for entry in folder.iterdir():
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    data = host.path("/var/lib/postfix")
    data.mkdir(parents=True, exist_ok=True)
    os.chown(data, user_id("postfix", host.system), group_id("postfix", host.system))
    for stale in data.iterdir():
        stale.unlink()


def main_cf(host: LabHost) -> str:
    """Debian's main.cf.debian with the lab's settings after it; a default the lab sets again (Debian 13's
    file has mynetworks, mydestination, alias_maps, ...) is left out, so postconf warns of no override."""
    live = f"/etc/letsencrypt/live/{host.lineage}"
    lab = (
        "\n# TLS parameters\n"
        f"smtpd_tls_cert_file = {live}/fullchain.pem\n"
        f"smtpd_tls_key_file = {live}/privkey.pem\n"
        "smtpd_tls_security_level = may\n"
        "smtpd_tls_loglevel = 1\n"
        "smtp_tls_CApath = /etc/ssl/certs\n"
        "smtp_tls_security_level = may\n"
        "smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache\n"
        "\n"
        f"myhostname = {host.fqdn}\n"
        f"mydomain = {host.domain}\n"
        "myorigin = $mydomain\n"
        "mydestination = $myhostname, localhost\n"
        "smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination\n"
        "mynetworks = 127.0.0.0/8\n"
        "alias_maps =\n"
        "alias_database =\n"
        "inet_interfaces = all\n"
        "inet_protocols = ipv4\n"
        "# No syslog in a lab host: Postfix logs to its own file.\n"
        f"maillog_file = {MAILLOG}\n"
    )
    set_again = set(re.findall(r"(?m)^([a-z_]+) =", lab))
    debian = host.system_path("/usr/share/postfix/main.cf.debian").read_text().splitlines()
    kept = [line for line in debian if line.split(" =", 1)[0] not in set_again]
    return "\n".join(kept).rstrip() + "\n" + lab


def master_cf(host: LabHost) -> str:
    """Debian's master.cf with the submission and submissions entries uncommented, as admins do."""
    out: list[str] = []
    entry: str | None = None
    for line in host.system_path("/usr/share/postfix/master.cf.dist").read_text().splitlines():
        head = re.match(r"#(submissions?)\s+inet\s", line)
        if head:
            entry = head.group(1)
            out.append(line[1:])
            continue
        option = re.match(r"#(\s+-o\s+([a-z_]+)=.*)", line)
        if entry and option:
            out.append(option.group(1) if option.group(2) in _KEPT_OPTIONS[entry] else line)
            continue
        if entry and line.startswith("#     "):
            out.append(line)
            continue
        entry = None
        out.append(line)
    return "\n".join(out) + "\n"


def configure(host: LabHost) -> None:
    write_text(host.path(MAIN_CF), main_cf(host))
    write_text(host.path(MASTER_CF), master_cf(host))


def start(shell: InHost) -> RecordedProcess:
    shell.start_daemon(["postfix", "start"], what="starting postfix", log=Path("/var/log/postfix-start.log"))
    return shell.pid_from_file(MASTER_PID, "postfix")


def reload(shell: InHost) -> None:
    shell.start_daemon(
        ["postfix", "reload"], what="reloading postfix", log=Path("/var/log/postfix-start.log")
    )


def running(shell: InHost) -> bool:
    return shell.running_pid(MASTER_PID) is not None


POSTFIX = MailService(
    name="postfix",
    bind_dirs=("/etc/postfix", "/var/spool/postfix", "/var/lib/postfix"),
    ports={25: "starttls", 587: "starttls", 465: "implicit"},
    reload_command="postfix reload",
    prepare=prepare,
    configure=configure,
    start=start,
    reload=reload,
    running=running,
)
