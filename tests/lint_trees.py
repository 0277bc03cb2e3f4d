"""Host trees for lint scenario tests: a healthy Postfix + Dovecot + certbot host, and one edit per fault.

Each tree is what an ops repository (or `/`) holds: etc/postfix, etc/dovecot, etc/letsencrypt with certbot's
real layout (relative symlinks into archive/), a deploy hook, the Debian cron line. Faults are planted the
way admins make them: a config line edited, a file swapped.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.pki import Issued, TestPKI

DOMAIN = "example.test"
NAMES = [f"mail.{DOMAIN}", f"smtp.{DOMAIN}", f"imap.{DOMAIN}", f"pop.{DOMAIN}"]
LINEAGE = f"mail.{DOMAIN}"
LIVE = f"/etc/letsencrypt/live/{LINEAGE}"

MAIN_CF = f"""\
# Postfix main.cf for mail.{DOMAIN}
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
smtpd_banner = $myhostname ESMTP
smtpd_tls_cert_file = {LIVE}/fullchain.pem
smtpd_tls_key_file = {LIVE}/privkey.pem
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_sasl_auth_enable = yes
smtpd_tls_auth_only = yes
"""

MASTER_CF = """\
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
submissions inet n      -       y       -       -       smtpd
  -o syslog_name=postfix/submissions
  -o smtpd_tls_wrappermode=yes
pickup    unix  n       -       y       60      1       pickup
"""

DOVECOT_CONF = f"""\
protocols = imap pop3
ssl = required
ssl_cert = <{LIVE}/fullchain.pem
ssl_key = <{LIVE}/privkey.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  inet_listener imaps {{
    port = 993
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 110
  }}
  inet_listener pop3s {{
    port = 995
    ssl = yes
  }}
}}
"""

RENEWAL_CONF = f"""\
# renew_before_expiry = 30 days
version = 2.1.0
archive_dir = /etc/letsencrypt/archive/{LINEAGE}
cert = {LIVE}/cert.pem
privkey = {LIVE}/privkey.pem
chain = {LIVE}/chain.pem
fullchain = {LIVE}/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef0123456789abcdef
authenticator = standalone
server = https://acme-v02.api.letsencrypt.org/directory
key_type = ecdsa
"""

DEPLOY_HOOK = "#!/bin/sh\nsystemctl reload postfix dovecot\n"
CRON = "0 */12 * * * root test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e 'sleep int(rand(43200))' && certbot -q renew --no-random-sleep-on-renew\n"


class HostTree:
    """A healthy host under `root`; methods plant one fault each."""

    def __init__(self, root: Path, pki: TestPKI, leaf: Issued | None = None) -> None:
        self.root = root
        self.pki = pki
        self.leaf = leaf or pki.leaf(NAMES)
        self.write("/etc/postfix/main.cf", MAIN_CF)
        self.write("/etc/postfix/master.cf", MASTER_CF)
        self.write("/etc/dovecot/dovecot.conf", DOVECOT_CONF)
        self.lineage(LINEAGE, self.leaf)
        self.write("/etc/letsencrypt/renewal-hooks/deploy/reload-mail", DEPLOY_HOOK, mode=0o755)
        self.write("/etc/cron.d/certbot", CRON)
        self.write("/usr/bin/certbot", "#!/bin/sh\n", mode=0o755)
        self.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        self.write("/etc/group", "root:x:0:\n")

    def path(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def write(self, host_path: str, data: str | bytes, mode: int = 0o644) -> None:
        target = self.path(host_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        os.chmod(target, mode)

    def lineage(self, name: str, leaf: Issued, version: int = 1, renewal_conf: str | None = None) -> None:
        """certbot's layout: archive/NAME/{cert,chain,fullchain,privkey}N.pem, live/NAME/*.pem relative links."""
        archive = f"/etc/letsencrypt/archive/{name}"
        files = {
            "cert": leaf.pem,
            "chain": self.pki.intermediate.pem,
            "fullchain": self.pki.bundle(leaf),
            "privkey": leaf.key_pem(),
        }
        live = self.path(f"/etc/letsencrypt/live/{name}")
        live.mkdir(parents=True, exist_ok=True)
        for kind, data in files.items():
            self.write(f"{archive}/{kind}{version}.pem", data, mode=0o600 if kind == "privkey" else 0o644)
            link = live / f"{kind}.pem"
            if link.is_symlink() or link.exists():
                link.unlink()
            os.symlink(f"../../archive/{name}/{kind}{version}.pem", link)
        conf = renewal_conf or RENEWAL_CONF.replace(LINEAGE, name)
        self.write(f"/etc/letsencrypt/renewal/{name}.conf", conf)

    def edit(self, host_path: str, old: str, new: str) -> None:
        text = self.path(host_path).read_text()
        assert old in text, f"{old!r} not in {host_path}"
        self.path(host_path).write_text(text.replace(old, new, 1))

    def append(self, host_path: str, text: str) -> None:
        with self.path(host_path).open("a") as handle:
            handle.write(text)
