"""Host trees for running gather.sh here: a typical lab host (Debian's Postfix and Dovecot files as the
packages install them, one certbot lineage with four names) and a hostile one (every kind of file the gather
treats apart: keys, garbage PEM, binary, DER, a file over the byte cap, secrets, odd names, links).

`gathered_as_root(tree, argv)` runs a gather command with the tree bind-mounted over the host's own
/etc/postfix, /etc/dovecot and /etc/letsencrypt in a private mount and PID namespace, so the program runs as
it does on a host (ROOT /, its own few processes) — the way to count what it execs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.lint_trees import HostTree
from tests.pki import TestPKI, new_key
from tests.pki import key_pem as encode_key

# Folders of a tree mounted over the host's own (they exist where scripts/install-system-deps ran).
MOUNTED = ("/etc/postfix", "/etc/dovecot", "/etc/letsencrypt")


def typical_host(root: Path, pki: TestPKI | None = None) -> HostTree:
    """A lab host: the packages' /etc/postfix and /etc/dovecot (when installed here), main.cf and the TLS
    lines of HostTree, a certbot lineage for mail/smtp/imap/pop.example.test, its renewal conf, hook, cron."""
    for folder in ("/etc/postfix", "/etc/dovecot"):
        if Path(folder).is_dir():
            shutil.copytree(folder, root / folder.lstrip("/"), symlinks=True)
    dovecot_conf = root / "etc/dovecot/dovecot.conf"
    package_conf = dovecot_conf.read_text() if dovecot_conf.exists() else ""
    tree = HostTree(root, pki or TestPKI())  # writes main.cf, master.cf, dovecot.conf, the lineage
    if package_conf:  # the package's dovecot.conf (its !include lines) with the TLS settings after it
        tree.write("/etc/dovecot/dovecot.conf", package_conf + "\n" + dovecot_conf.read_text())
    return tree


def hostile_host(root: Path, pki: TestPKI | None = None) -> HostTree:
    """The typical host and, in its folders, every file kind gather.sh handles apart."""
    tree = typical_host(root, pki)
    pki = tree.pki
    other = pki.leaf(["other.example.test"])
    tree.lineage("other.example.test", other)
    big = "# padding\n" * 110_000  # over the 1 MiB byte cap
    files: dict[str, bytes | str] = {
        "/etc/postfix/big.cf": big,
        "/etc/postfix/no-newline.cf": "myhostname = mx.example.test\nsmtpd_tls_cert_file = /etc/ssl/x.pem",
        "/etc/postfix/crlf.cf": "myhostname = mx.example.test\r\nrelayhost = [smtp.example.test]\r\n",
        "/etc/postfix/empty.cf": "",
        "/etc/postfix/blank.cf": " \n\t\n",
        "/etc/postfix/ldap.cf": "server_host = ldap://cn=a:LdapUrlPw@ldap.example.test\nbind_pw = LdapPw1\n"
        "query_filter = mail=%s\n  continued_after\n",
        "/etc/postfix/sasl_passwd": "[smtp.example.test]:587 relay:SaslPw2\n# comment:Pw\n\n",
        "/etc/postfix/binary.db": b"\x00\x01\x02binary\xff\n",
        "/etc/postfix/der.crt": b"0\x82\x01\x0a" + b"\x00" * 20,
        "/etc/postfix/high-bytes.cf": "comment = caf\xe9 \u2603\n".encode("latin-1", "replace"),
        "/etc/postfix/with key.pem": other.key_pem() + other.pem,
        "/etc/postfix/encrypted.key": other.key_pem(password=b"secret"),
        "/etc/postfix/rsa.key": encode_key(new_key("rsa")),
        "/etc/postfix/garbage.pem": "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
        "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n-----BEGIN DH PARAMETERS-----\n"
        "x\n-----END DH PARAMETERS-----\n-----BEGIN CERTIFICATE-----\nunterminated\n",
        "/etc/postfix/pem-in-config.cf": "smtpd_tls_cert_file = /etc/ssl/c.pem\npassword = PemCfgPw3\n"
        + pki.intermediate.pem.decode()
        + "after = block\n",
        '/etc/postfix/quote\'s "name".cf': 'smtpd_tls_CAfile = "/etc/ssl/my ca.pem"\n',
        "/etc/postfix/new\nline.cf": "x = 1\n",
        "/etc/postfix/nul-in-text.cf": b"a = b\x00c\n",
        "/etc/postfix/zero-first.cf": "0 = leading zero\n",
        "/etc/dovecot/conf.d/99-secret.conf": "ssl_key_password = DovPw4\npassdb {\n  args = password=DovPw5 \\\n"
        "    more=DovPw6\n}\n",
        "/etc/dovecot/conf.d/98-no-newline.conf": "ssl_cert = </etc/dovecot/missing.pem",
        "/etc/letsencrypt/renewal/other.example.test.conf": "dns_cloudflare_api_token = CfToken7\n",
        "/etc/letsencrypt/cli.ini": "eab-hmac-key = Eab8\n",
    }
    for path, data in files.items():
        tree.write(path, data)
    tree.write("/etc/postfix/unreadable.cf", "secret = Unread9\n", mode=0o000)
    tree.write("/etc/letsencrypt/renewal-hooks/deploy/helper.sh", "#!/bin/sh\ntoken=HookTok10\n", mode=0o755)
    postfix = tree.path("/etc/postfix")
    (postfix / "dangling.cf").symlink_to("/nonexistent/x")
    (postfix / "loop1").symlink_to("loop2")
    (postfix / "loop2").symlink_to("loop1")
    (postfix / "outside.cf").symlink_to("/etc/passwd")  # outside the tree
    (postfix / "subdir with space").mkdir()
    (postfix / "subdir with space/file.cf").write_text("y = 2\n")
    os.mkfifo(postfix / "fifo")
    return tree


def namespace_available() -> str | None:
    """None when gathered_as_root can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root: a private mount namespace to put the tree over /etc"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    missing = [folder for folder in MOUNTED if not Path(folder).is_dir()]
    if missing:
        return (
            f"needs {', '.join(missing)} to mount the tree over (scripts/install-system-deps installs them)"
        )
    return None


def gathered_as_root(
    tree: Path, argv: list[str], *, timeout: int = 120
) -> subprocess.CompletedProcess[bytes]:
    """Run argv with tree's MOUNTED folders over the host's, in its own mount and PID namespace (ROOT /)."""
    binds = " && ".join(f'mount --bind "$1{folder}" {folder}' for folder in MOUNTED)
    inner = f'{binds} && shift && exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private",
         "sh", "-c", inner, "sh", str(tree), *argv],
        capture_output=True, timeout=timeout, check=False,
    )  # fmt: skip
