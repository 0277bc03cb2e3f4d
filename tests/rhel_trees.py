"""Host trees laid out as RHEL 9 (and Alma/Rocky 9) lays them out, for lint and fix tests.

What the packages install, and where these trees got it from:
- postfix (BaseOS): /etc/postfix/main.cf ends with Fedora's config patch lines `smtpd_tls_cert_file =
  /etc/pki/tls/certs/postfix.pem`, `smtpd_tls_key_file = /etc/pki/tls/private/postfix.key`,
  `smtpd_tls_security_level = may`, `smtp_tls_CApath = /etc/pki/tls/certs`, `smtp_tls_CAfile =
  /etc/pki/tls/certs/ca-bundle.crt`, `smtp_tls_security_level = may` (the spec's %sslcert/%sslkey; `postconf -n`
  of Alma/Rocky 8 and 9 hosts quoted in public notes); `inet_interfaces = localhost`, which the admin of a mail
  host sets to `all`; master.cf with `smtp` only (chroot column `n`), `submission` and `smtps` commented out.
- dovecot 2.3.16 (AppStream): dovecot.conf includes conf.d/*.conf; conf.d/10-ssl.conf has `ssl = required`,
  `ssl_cert = </etc/pki/dovecot/certs/dovecot.pem`, `ssl_key = </etc/pki/dovecot/private/dovecot.pem`,
  `ssl_cipher_list = PROFILE=SYSTEM` (`doveconf -n` of AlmaLinux 9.2 / Rocky 8.10 hosts); the self-signed pair
  is made at first start (mkcert.sh, --with-ssldir=/etc/pki/dovecot in the spec). No `protocols` line: the
  built-in default serves imap and pop3 (lmtp too, no TLS port). Fedora has moved to Dovecot 2.4 since.
- exim (EPEL): /usr/sbin/exim reads one file, /etc/exim/exim.conf (CONFIGURE_FILE; the spec installs
  configure.default there), `tls_certificate = /etc/pki/tls/certs/exim.pem`, `tls_privatekey =
  /etc/pki/tls/private/exim.pem` (self-signed, made by exim-gen-cert), unit exim.service. No /etc/exim4, no
  update-exim4.conf, no /etc/default/exim4.
- certbot (EPEL): /usr/bin/certbot, certbot-renew.timer shipped disabled (the admin enables it), the same
  /etc/letsencrypt layout as everywhere.

Each tree starts as an admin leaves it: packages installed, the self-signed defaults still on disk but the
configs repointed to a certbot lineage, the timer enabled, a deploy hook that reloads the daemons. The
configs hold the lines that matter here, not the packages' whole commented files; they live in the oracle
corpora (tests/data/postfix/rhel9-letsencrypt, tests/data/dovecot/rhel9-letsencrypt, tests/data/exim/rhel-epel),
so the real postconf, doveconf and exim read them too.
"""

from __future__ import annotations

from pathlib import Path

from tests.lint_trees import LINEAGE, NAMES, HostTree
from tests.pki import Issued, TestPKI

POSTFIX_CERT = "/etc/pki/tls/certs/postfix.pem"
POSTFIX_KEY = "/etc/pki/tls/private/postfix.key"
DOVECOT_CERT = "/etc/pki/dovecot/certs/dovecot.pem"
DOVECOT_KEY = "/etc/pki/dovecot/private/dovecot.pem"
EXIM_CERT = "/etc/pki/tls/certs/exim.pem"
EXIM_KEY = "/etc/pki/tls/private/exim.pem"
EXIM_CONF = "/etc/exim/exim.conf"
DOVECOT_SSL = "/etc/dovecot/conf.d/10-ssl.conf"
TIMER = "certbot-renew.timer"
TIMER_WANTS = f"/etc/systemd/system/timers.target.wants/{TIMER}"

# RHEL's main.cf and master.cf, kept where the Postfix oracle (tests/oracle/test_postfix_oracle.py) runs postconf
POSTFIX_DIR = Path(__file__).parent / "data/postfix/rhel9-letsencrypt"
# RHEL's /etc/dovecot, kept where the Dovecot oracle (tests/oracle/test_dovecot_oracle.py) runs doveconf on it
DOVECOT_TREE = Path(__file__).parent / "data/dovecot/rhel9-letsencrypt/etc/dovecot"
# EPEL's exim.conf, kept where the Exim oracle (tests/oracle/test_exim_oracle.py) runs the real exim on it
EXIM_MAIN = (Path(__file__).parent / "data/exim/rhel-epel/root/etc/exim/exim.conf").read_text()

TIMER_UNIT = """\
[Unit]
Description=This is the timer to set the schedule for automated renewals

[Timer]
OnCalendar=*-*-* 00/12:00:00
RandomizedDelaySec=12hours
Persistent=true

[Install]
WantedBy=timers.target
"""

DEPLOY_HOOK = "#!/bin/sh\nsystemctl reload {units}\n"


class RhelTree(HostTree):
    """A RHEL 9 host under `root` running Postfix (or, with `mta="exim"`, EPEL's Exim) and Dovecot."""

    def __init__(self, root: Path, pki: TestPKI, *, mta: str = "postfix", leaf: Issued | None = None) -> None:
        # HostTree.__init__ writes Debian's files; a RHEL host gets only its own
        self.root = root
        self.pki = pki
        self.leaf = leaf or pki.leaf(NAMES)
        self.mta = mta
        self.self_signed = pki.leaf(["localhost.localdomain"], self_signed=True)
        self._pair(DOVECOT_CERT, DOVECOT_KEY)
        if mta == "postfix":
            self._pair(POSTFIX_CERT, POSTFIX_KEY)
            for name in ("main.cf", "master.cf"):
                self.write(f"/etc/postfix/{name}", (POSTFIX_DIR / name).read_text())
            self.write("/usr/sbin/postfix", "#!/bin/sh\n", mode=0o755)
        else:
            self._pair(EXIM_CERT, EXIM_KEY)
            self.write(EXIM_CONF, EXIM_MAIN)
            self.write("/etc/sysconfig/exim", "DAEMON=yes\nQUEUE=1h\n")
            self.write("/usr/sbin/exim", "#!/bin/sh\n", mode=0o755)
        for source in sorted(DOVECOT_TREE.rglob("*.conf")):
            self.write(f"/etc/dovecot/{source.relative_to(DOVECOT_TREE)}", source.read_text())
        self.write("/etc/pki/tls/certs/ca-bundle.crt", pki.root_pem())
        self.lineage(LINEAGE, self.leaf)
        units = "postfix dovecot" if mta == "postfix" else "exim dovecot"
        for unit in units.split():  # the packages' units (the spec's %{_unitdir}/exim.service, ...)
            self.write(f"/usr/lib/systemd/system/{unit}.service", f"[Unit]\nDescription={unit}\n")
        self.write(
            "/etc/letsencrypt/renewal-hooks/deploy/reload-mail", DEPLOY_HOOK.format(units=units), 0o755
        )
        self.write(f"/usr/lib/systemd/system/{TIMER}", TIMER_UNIT)
        self.path(TIMER_WANTS).parent.mkdir(parents=True, exist_ok=True)
        self.path(TIMER_WANTS).symlink_to(f"/usr/lib/systemd/system/{TIMER}")
        self.write("/usr/bin/certbot", "#!/bin/sh\n", mode=0o755)
        self.path("/run/systemd/system").mkdir(parents=True)  # RHEL 7 and later always boot with systemd
        self.write("/etc/redhat-release", "Red Hat Enterprise Linux release 9.4 (Plow)\n")
        self.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        group = "root:x:0:\ndovecot:x:97:\n" + ("postfix:x:89:\n" if mta == "postfix" else "exim:x:93:\n")
        self.write("/etc/group", group)

    def _pair(self, cert: str, key: str) -> None:
        """A package's self-signed default, as first start leaves it (the key root-only)."""
        self.write(cert, self.self_signed.pem)
        self.write(key, self.self_signed.key_pem(), mode=0o600)

    @property
    def mta_config(self) -> str:
        return "/etc/postfix/main.cf" if self.mta == "postfix" else EXIM_CONF
