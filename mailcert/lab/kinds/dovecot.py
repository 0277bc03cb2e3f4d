"""Dovecot on a lab host: Debian's package config, IMAP + POP3 with their implicit-TLS ports.

Debian 12's Dovecot 2.3 names the certificate `ssl_cert = <file`; Debian 13's 2.4 `ssl_server_cert_file = file`
(its dovecot.conf starts with `dovecot_config_version`). The host's own package config says which.
"""

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
    copy_system_tree(str(host.system_path("/etc/dovecot")), host.path("/etc/dovecot"))
    host.path("/var/lib/dovecot").mkdir(parents=True, exist_ok=True)


def is_24(host: LabHost) -> bool:
    """Whether the host's Dovecot is 2.4 (its package dovecot.conf sets dovecot_config_version)."""
    text = host.system_path("/etc/dovecot/dovecot.conf").read_text()
    return re.search(r"(?m)^\s*dovecot_config_version\s*=", text) is not None


def cert_settings(host: LabHost) -> tuple[str, str, str]:
    """(certificate setting, key setting, what goes before the path): 2.3 reads `<file`, 2.4 takes the path."""
    return (
        ("ssl_server_cert_file", "ssl_server_key_file", "") if is_24(host) else ("ssl_cert", "ssl_key", "<")
    )


def ssl_conf(host: LabHost) -> str:
    """Debian's 10-ssl.conf with the certificate and key pointed at the certbot lineage (the usual admin edit)."""
    live = f"/etc/letsencrypt/live/{host.lineage}"
    cert, key, lt = cert_settings(host)
    text = host.system_path(SSL_CONF).read_text()
    text = re.sub(rf"(?m)^{cert} = .*$", f"{cert} = {lt}{live}/fullchain.pem", text)
    text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {lt}{live}/privkey.pem", text)
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
