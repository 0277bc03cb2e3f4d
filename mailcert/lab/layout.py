"""A lab host's files under DIR/hosts/NAME/root, laid out like the host's own `/`.

Inside the host's mount namespace these folders are bind-mounted onto the real paths, so the
daemons read /etc/postfix, /etc/dovecot, /etc/letsencrypt ... and `mailcert lint DIR/hosts/NAME/root`
reads exactly the same files.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from mailcert.lab.network import netns_name
from mailcert.lab.pki import PrivateKey, cert_pem, key_pem
from mailcert.lab.procs import run
from mailcert.lab.systemroot import group_id, in_root, system_root

LAB_DOMAIN = "mailcert.test"
ADMIN_USER = "mailadmin"
SERVICE_PREFIXES = ("mail", "smtp", "imap", "pop")


@dataclass(frozen=True)
class LabHost:
    """One lab host: who it is, where it lives in the lab range and on disk."""

    name: str
    kind: str
    address: str
    lab_dir: Path

    @property
    def domain(self) -> str:
        return f"{self.name}.{LAB_DOMAIN}"

    @property
    def hostnames(self) -> tuple[str, ...]:
        """The names mail clients use: mail., smtp., imap., pop. under the host's own lab domain."""
        return tuple(f"{prefix}.{self.domain}" for prefix in SERVICE_PREFIXES)

    @property
    def fqdn(self) -> str:
        return self.hostnames[0]

    @property
    def lineage(self) -> str:
        """The certbot certificate name (folder under /etc/letsencrypt/live)."""
        return self.fqdn

    @property
    def root(self) -> Path:
        return self.lab_dir / "hosts" / self.name / "root"

    @property
    def netns(self) -> str:
        return netns_name(self.name)

    def path(self, host_path: str) -> Path:
        """The local path of a path as the host sees it (`/etc/postfix/main.cf`)."""
        return self.root / host_path.lstrip("/")

    @property
    def system(self) -> Path:
        """The root the host's /usr and package defaults come from (`/`, or the Debian 13 root)."""
        return system_root(self.kind)

    def system_path(self, host_path: str) -> Path:
        """A package default as the host's system has it (`/usr/share/postfix/main.cf.debian`)."""
        return in_root(self.system, host_path)


# Folders every host has of its own; the rest of the machine's filesystem (/usr, ...) is shared.
# /etc is a whole copy: a bind mount on a single file (/etc/passwd) silently vanishes when the machine
# replaces that file (useradd renames a new one into place), so no single files are bind-mounted.
BASE_BIND_DIRS = ("/etc", "/var/lib/letsencrypt", "/var/lib/mailcert", "/var/log", "/home", "/run")
# Parts of the machine's /etc a lab host gets fresh instead of copied (keys, certificates).
_NOT_COPIED = ("ssh", "letsencrypt", "postfix", "dovecot")


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".lab-tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".lab-tmp")
    tmp.touch(mode=mode)
    tmp.chmod(mode)
    tmp.write_bytes(data)
    tmp.replace(path)


def copy_system_tree(source: str, target: Path) -> None:
    """Copy a folder of the machine (package defaults) keeping owners and modes, as `cp -a` does."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    run(["cp", "-a", source, str(target)], what=f"copying {source}")


# -- the base system: accounts, sshd, sudo ---------------------------------------------------------
def _free_id(used: set[int], start: int = 2001) -> int:
    candidate = start
    while candidate in used:
        candidate += 1
    return candidate


def write_base_system(host: LabHost, authorized_key: str) -> None:
    """Accounts (root + a sudo-capable admin), sshd with key-only login, /etc/hosts, run/log folders.

    /etc starts as a copy of the host's system's /etc (the machine's, or the Debian 13 root's)."""
    copy_system_tree(str(host.system_path("/etc")), host.path("/etc"))
    for fresh in _NOT_COPIED:
        copied = host.path(f"/etc/{fresh}")
        if copied.is_dir() and not copied.is_symlink():
            shutil.rmtree(copied)
        elif copied.exists() or copied.is_symlink():
            copied.unlink()
    passwd = host.system_path("/etc/passwd").read_text().splitlines()
    group = host.system_path("/etc/group").read_text().splitlines()
    shadow = host.system_path("/etc/shadow").read_text().splitlines()
    uids = {int(line.split(":")[2]) for line in passwd if line.count(":") >= 3}
    gids = {int(line.split(":")[2]) for line in group if line.count(":") >= 3}
    admin_id = _free_id(uids | gids)
    passwd = [line for line in passwd if not line.startswith(f"{ADMIN_USER}:")]
    group = [line for line in group if not line.startswith(f"{ADMIN_USER}:")]
    shadow = [line for line in shadow if not line.startswith(f"{ADMIN_USER}:")]
    passwd.append(f"{ADMIN_USER}:x:{admin_id}:{admin_id}:lab mail admin:/home/{ADMIN_USER}:/bin/bash")
    group.append(f"{ADMIN_USER}:x:{admin_id}:")
    # `*`: no password login, but not a locked account (sshd refuses keys for `!` accounts).
    shadow = [_unlock_root(line) for line in shadow]
    shadow.append(f"{ADMIN_USER}:*:20000:0:99999:7:::")
    write_text(host.path("/etc/passwd"), "\n".join(passwd) + "\n")
    write_text(host.path("/etc/group"), "\n".join(group) + "\n")
    write_text(host.path("/etc/shadow"), "\n".join(shadow) + "\n", 0o640)
    os.chown(host.path("/etc/shadow"), 0, group_id("shadow", host.system))
    write_text(host.path("/etc/hostname"), host.fqdn + "\n")
    write_text(
        host.path("/etc/hosts"),
        f"127.0.0.1\tlocalhost\n{host.address}\t{' '.join(host.hostnames)} {host.name}\n",
    )
    write_text(
        host.path(f"/etc/sudoers.d/{ADMIN_USER}"), f"{ADMIN_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n", 0o440
    )
    home = host.path(f"/home/{ADMIN_USER}")
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, admin_id, admin_id)
    for folder in ("/run/sshd", "/var/log", "/var/lib/letsencrypt", "/var/lib/mailcert"):
        host.path(folder).mkdir(parents=True, exist_ok=True)
    host.path("/run").chmod(0o755)
    _write_sshd(host, authorized_key)


def _unlock_root(line: str) -> str:
    fields = line.split(":")
    if fields[0] == "root" and fields[1].startswith("!"):
        fields[1] = "*"
    return ":".join(fields)


def _write_sshd(host: LabHost, authorized_key: str) -> None:
    ssh = host.path("/etc/ssh")
    ssh.mkdir(parents=True, exist_ok=True)
    for key_type in ("ed25519", "ecdsa"):
        key = ssh / f"ssh_host_{key_type}_key"
        if not key.exists():
            run(
                ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", f"root@{host.fqdn}", "-f", str(key)],
                what=f"making {host.name}'s SSH host key",
            )
    write_text(
        ssh / "sshd_config",
        "# mailcert lab host: key-only logins with the lab key\n"
        "Port 22\n"
        "ListenAddress 0.0.0.0\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "HostKey /etc/ssh/ssh_host_ecdsa_key\n"
        "PidFile none\n"
        "PermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\n"
        "AuthorizedKeysFile /etc/ssh/authorized_keys/%u\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "PrintMotd no\n"
        "UseDNS no\n"
        "LogLevel DEBUG1\n"  # one line per exec request: benchmarks and tests count round trips on the host
        "AcceptEnv LANG LC_*\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\n",
    )
    keys = ssh / "authorized_keys"
    keys.mkdir(exist_ok=True)
    keys.chmod(0o755)
    for user in ("root", ADMIN_USER):
        write_text(keys / user, authorized_key.strip() + "\n", 0o644)


def host_public_keys(host: LabHost) -> list[str]:
    """The host's SSH public keys as `TYPE BASE64` (for known_hosts)."""
    keys = []
    for pub in sorted(host.path("/etc/ssh").glob("ssh_host_*_key.pub")):
        key_type, blob = pub.read_text().split()[:2]
        keys.append(f"{key_type} {blob}")
    return keys


# -- certbot's layout --------------------------------------------------------------------------
@dataclass(frozen=True)
class Issued:
    """A certificate as a CA hands it over: leaf, the chain above it (without the root), the key."""

    leaf: x509.Certificate
    chain: Sequence[x509.Certificate]
    key: PrivateKey


def write_lineage(
    host: LabHost, issued: Issued, version: int, *, server: str, key_group: str | None = None
) -> None:
    """Store a certificate the way certbot does: archive/NAME/*N.pem, live/NAME/* symlinks, renewal/NAME.conf.

    key_group: a daemon group that must read the key (Exim): folders 0750 and keys 0640 root:GROUP, the
    permissions admins give certbot's tree for Exim.
    """
    le = host.path("/etc/letsencrypt")
    name = host.lineage
    archive, live = le / "archive" / name, le / "live" / name
    archive.mkdir(parents=True, exist_ok=True)
    live.mkdir(parents=True, exist_ok=True)
    for folder in (le / "archive", le / "live"):
        folder.chmod(0o700)
        if key_group:
            os.chown(folder, 0, group_id(key_group))
            folder.chmod(0o750)
    chain = b"".join(cert_pem(c) for c in issued.chain)
    files = {
        "cert": (cert_pem(issued.leaf), 0o644),
        "chain": (chain, 0o644),
        "fullchain": (cert_pem(issued.leaf) + chain, 0o644),
        "privkey": (key_pem(issued.key), 0o600),
    }
    for kind, (data, mode) in files.items():
        write_bytes(archive / f"{kind}{version}.pem", data, mode)
        if kind == "privkey":
            share_key(archive / f"{kind}{version}.pem", key_group)
        link = live / f"{kind}.pem"
        tmp = live / f".{kind}.pem.lab-tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(f"../../archive/{name}/{kind}{version}.pem")
        tmp.replace(link)
    write_text(
        live / "README",
        "This directory contains your keys and certificates.\n\n"
        "`privkey.pem`  : the private key for your certificate.\n"
        "`fullchain.pem`: the certificate file used in most server software.\n"
        "`chain.pem`    : used for OCSP stapling in Nginx >=1.3.7.\n"
        "`cert.pem`     : will break many server configurations, and should not be used\n"
        "                 without reading further documentation (see link below).\n",
    )
    write_text(
        le / "renewal" / f"{name}.conf",
        "# renew_before_expiry = 30 days\n"
        "version = 2.1.0\n"
        f"archive_dir = /etc/letsencrypt/archive/{name}\n"
        f"cert = /etc/letsencrypt/live/{name}/cert.pem\n"
        f"privkey = /etc/letsencrypt/live/{name}/privkey.pem\n"
        f"chain = /etc/letsencrypt/live/{name}/chain.pem\n"
        f"fullchain = /etc/letsencrypt/live/{name}/fullchain.pem\n"
        "\n# Options used in the renewal process\n"
        "[renewalparams]\n"
        "authenticator = standalone\n"
        f"server = {server}\n"
        "key_type = ecdsa\n",
    )


def share_key(path: Path, key_group: str | None) -> None:
    """Let a daemon group read a private key (0640 root:GROUP); no-op without a group."""
    if key_group:
        os.chown(path, 0, group_id(key_group))
        path.chmod(0o640)


def current_lineage_version(host: LabHost) -> int:
    target = host.path(f"/etc/letsencrypt/live/{host.lineage}/cert.pem").readlink()
    digits = "".join(ch for ch in Path(target).stem if ch.isdigit())
    return int(digits or "0")


DEPLOY_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/reload-mail-services"


def write_deploy_hook(host: LabHost, reload_commands: Sequence[str]) -> None:
    """The hook certbot runs after each renewal, so the daemons pick up the new certificate."""
    for hook_dir in ("pre", "post", "deploy"):
        host.path(f"/etc/letsencrypt/renewal-hooks/{hook_dir}").mkdir(parents=True, exist_ok=True)
    body = "".join(f"{command}\n" for command in reload_commands)
    write_text(
        host.path(DEPLOY_HOOK),
        f"#!/bin/sh\n# Serve renewed certificates: reload every daemon using them.\n{body}",
        0o755,
    )


def prune_letsencrypt(host: LabHost) -> None:
    """Remove what a fresh lab host does not have under /etc/letsencrypt (older versions, accounts, ...).

    Run after the healthy lineage is in place: the files the daemons read never vanish, not even for
    a moment (Dovecot's config process fails, and is throttled for a minute, when one is missing).
    """
    le = host.path("/etc/letsencrypt")
    name = host.lineage
    keep = {
        *(f"live/{name}/{kind}.pem" for kind in ("cert", "chain", "fullchain", "privkey")),
        f"live/{name}/README",
        *(f"archive/{name}/{kind}1.pem" for kind in ("cert", "chain", "fullchain", "privkey")),
        f"renewal/{name}.conf",
        DEPLOY_HOOK.removeprefix("/etc/letsencrypt/"),
    }
    keep_dirs = {str(Path(k).parent) for k in keep} | {
        "renewal-hooks/pre",
        "renewal-hooks/post",
        "renewal-hooks",
    }
    for path in sorted(le.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        relative = str(path.relative_to(le))
        if path.is_dir() and not path.is_symlink():
            if relative not in keep_dirs and not any(k.startswith(relative + "/") for k in keep):
                shutil.rmtree(path)
        elif relative not in keep:
            path.unlink()


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
