"""Dovecot on a lab host: Debian's package config, IMAP + POP3 with their implicit-TLS ports."""

from __future__ import annotations

import re
from pathlib import Path

from mailcert.lab.kinds.base import MailService
from mailcert.lab.layout import LabHost, copy_system_tree, write_text
from mailcert.lab.procs import RecordedProcess
from mailcert.lab.services import InHost

SSL_CONF = "/etc/dovecot/conf.d/10-ssl.conf"
LOCAL_CONF = "/etc/dovecot/local.conf"
MASTER_PID = "/run/dovecot/master.pid"


def prepare(host: LabHost) -> None:
    copy_system_tree("/etc/dovecot", host.path("/etc/dovecot"))
    host.path("/var/lib/dovecot").mkdir(parents=True, exist_ok=True)


def ssl_conf(host: LabHost) -> str:
    """Debian's 10-ssl.conf with ssl_cert/ssl_key pointed at the certbot lineage (the usual admin edit)."""
    live = f"/etc/letsencrypt/live/{host.lineage}"
    text = Path("/etc/dovecot/conf.d/10-ssl.conf").read_text()
    text = re.sub(r"(?m)^ssl_cert = .*$", f"ssl_cert = <{live}/fullchain.pem", text)
    text = re.sub(r"(?m)^ssl_key = .*$", f"ssl_key = <{live}/privkey.pem", text)
    return text


def configure(host: LabHost) -> None:
    write_text(host.path(SSL_CONF), ssl_conf(host))
    write_text(
        host.path(LOCAL_CONF),
        "# mailcert lab host\n"
        "listen = *\n"
        "# No syslog in a lab host: Dovecot logs to its own file.\n"
        "log_path = /var/log/dovecot.log\n",
    )


def start(shell: InHost) -> RecordedProcess:
    shell.start_daemon(["dovecot"], what="starting dovecot", log=Path("/var/log/dovecot-start.log"))
    return shell.pid_from_file(MASTER_PID, "dovecot")


def reload(shell: InHost) -> None:
    shell.start_daemon(
        ["doveadm", "reload"], what="reloading dovecot", log=Path("/var/log/dovecot-start.log")
    )


def running(shell: InHost) -> bool:
    return shell.try_run(["doveadm", "service", "status"]).returncode == 0


DOVECOT = MailService(
    name="dovecot",
    bind_dirs=("/etc/dovecot", "/var/lib/dovecot"),
    ports={143: "starttls", 993: "implicit", 110: "starttls", 995: "implicit"},
    reload_command="doveadm reload",
    prepare=prepare,
    configure=configure,
    start=start,
    reload=reload,
    running=running,
)
