"""SIMULATOR: the files cPanel writes for mail TLS, at cPanel's paths (reference §4.1).

Every function takes a `root` (the host's `/`; a folder in unit tests) so the same code writes the lab
host's healthy state, serves the SIMULATOR's API calls on the host and builds hand-made test trees.
"""

from __future__ import annotations

import grp
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SSL_DIR = "/var/cpanel/ssl"
DOMAIN_TLS = "/var/cpanel/ssl/domain_tls"
SNI_CONF = "/etc/dovecot/sni.conf"
DOVECOT_CONF = "/etc/dovecot/dovecot.conf"
EXIM_CONF = "/etc/exim.conf"
USERDOMAINS = "/etc/userdomains"
USERS_DIR = "/var/cpanel/users"
MARKER = "/usr/local/cpanel/version"
# SIMULATOR's own settings and switches (not a cPanel path): config.json, fail-calls.
SIM_DIR = "/var/cpanel/mailcert-sim"
FAIL_CALLS = f"{SIM_DIR}/fail-calls"
CALLS_LOG = f"{SIM_DIR}/calls.log"

# service -> (certificate file: crt + cab, key file) of the admin-installed ("configured") certificate.
SERVICE_FILES = {
    "exim": (f"{SSL_DIR}/exim/myexim.crt", f"{SSL_DIR}/exim/myexim.key"),
    "dovecot": (f"{SSL_DIR}/dovecot/mydovecot.crt", f"{SSL_DIR}/dovecot/mydovecot.key"),
}
# Where the daemons read them (symlinks, as cPanel places them).
SERVICE_LINKS = {
    "exim": ("/etc/myexim.crt", "/etc/myexim.key"),
    "dovecot": ("/etc/dovecot/ssl/dovecot.crt", "/etc/dovecot/ssl/dovecot.key"),
}

_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.S)


def pem_blocks(text: str) -> list[tuple[str, str]]:
    """(TYPE, block) for every PEM block in text, in order; each block ends with a newline."""
    return [(m.group(1), m.group(0).rstrip("\r\n") + "\n") for m in _PEM.finditer(text)]


@dataclass(frozen=True)
class SimConfig:
    """The SIMULATOR's settings for one host (written by the lab when it builds the host)."""

    hostname: str
    key_group: str  # the group Exim reads keys as (mailnull on cPanel, Debian-exim in the lab)
    acme_server: str  # the SIMULATOR's AutoSSL provider: certbot against this ACME directory
    acme_ca_bundle: str
    acme_email: str

    @classmethod
    def load(cls, root: Path) -> SimConfig:
        data = json.loads((root / SIM_DIR.lstrip("/") / "config.json").read_text())
        return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__})

    def save(self, root: Path) -> None:
        write(root, f"{SIM_DIR}/config.json", json.dumps(self.__dict__, indent=1) + "\n", 0o600)


def host_path(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def _gid(group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return 0


def write(root: Path, path: str, text: str, mode: int = 0o644, group: str | None = None) -> None:
    """Write atomically (a temporary file renamed into place), with the mode (and group) cPanel gives it."""
    target = host_path(root, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.sim-tmp")
    tmp.unlink(missing_ok=True)
    tmp.touch(mode=0o600)
    tmp.write_text(text)
    if group and os.geteuid() == 0:
        os.chown(tmp, 0, _gid(group))
    tmp.chmod(mode)
    tmp.replace(target)


def link(root: Path, path: str, target: str) -> None:
    where = host_path(root, path)
    where.parent.mkdir(parents=True, exist_ok=True)
    tmp = where.with_name(f".{where.name}.sim-tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(where)


# -- service certificates -----------------------------------------------------------------------
def install_service(root: Path, service: str, crt: str, key: str, cabundle: str, key_group: str) -> None:
    """What install_service_ssl_certificate stores: crt + cab in my<service>.crt, the key beside it."""
    crt_path, key_path = SERVICE_FILES[service]
    body = crt.rstrip("\n") + "\n" + (cabundle.rstrip("\n") + "\n" if cabundle.strip() else "")
    write(root, key_path, key.rstrip("\n") + "\n", 0o640, key_group)
    write(root, crt_path, body, 0o644)
    for made, target in zip(SERVICE_LINKS[service], SERVICE_FILES[service], strict=True):
        link(root, made, target)


def read_service(root: Path, service: str) -> tuple[str, str, str] | None:
    """(certificate, key, cabundle) of a service as installed, or None when it has none."""
    crt_path, key_path = SERVICE_FILES[service]
    try:
        crt_text = host_path(root, crt_path).read_text()
        key_text = host_path(root, key_path).read_text()
    except OSError:
        return None
    certs = [block for kind, block in pem_blocks(crt_text) if kind == "CERTIFICATE"]
    if not certs:
        return None
    return certs[0], key_text, "".join(certs[1:])


# -- accounts and Domain TLS ----------------------------------------------------------------------
def user_domains(root: Path) -> dict[str, str]:
    """domain -> cPanel user, from /etc/userdomains (`domain: user` lines; `*: nobody` skipped)."""
    found: dict[str, str] = {}
    try:
        text = host_path(root, USERDOMAINS).read_text()
    except OSError:
        return found
    for line in text.splitlines():
        domain, _, user = line.partition(":")
        if user.strip() and domain.strip() != "*":
            found[domain.strip()] = user.strip()
    return found


def write_accounts(root: Path, accounts: Mapping[str, Sequence[str]]) -> None:
    """user -> domains: /etc/userdomains and /var/cpanel/users/<user> (DNS= lines), as cPanel keeps them."""
    lines = [f"{domain}: {user}" for user, domains in accounts.items() for domain in domains]
    write(root, USERDOMAINS, "\n".join([*lines, "*: nobody"]) + "\n", 0o640)
    for user, domains in accounts.items():
        dns = [f"DNS{'' if i == 0 else i}={d}" for i, d in enumerate(domains)]
        write(root, f"{USERS_DIR}/{user}", "\n".join([f"USER={user}", *dns, "FEATURELIST=default"]) + "\n")


def domain_tls_entries(root: Path) -> list[str]:
    """The names with a Domain TLS entry (a `combined` file), pending deletions left out."""
    base = host_path(root, DOMAIN_TLS)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if not p.name.startswith(".") and (p / "combined").is_file())


def write_domain_tls(root: Path, names: Sequence[str], key: str, certificates: str, key_group: str) -> None:
    """Store one certificate for each of names: `combined` = key then leaf then chain; `certificates`."""
    for name in names:
        write(root, f"{DOMAIN_TLS}/{name}/certificates", certificates, 0o644)
        write(root, f"{DOMAIN_TLS}/{name}/combined", key.rstrip("\n") + "\n" + certificates, 0o640, key_group)
        # cPanel's get_mtime_path: the folder's mtime moves on every add, replace or delete.
        os.utime(host_path(root, DOMAIN_TLS))


# -- mail SNI --------------------------------------------------------------------------------------
def certificate_domains(root: Path, entry: str) -> list[str]:
    """The DNS names of a Domain TLS entry's leaf (its `certificates` file)."""
    from mailcert.lab.cpanel_sim.certinfo import certificate_info

    try:
        text = host_path(root, f"{DOMAIN_TLS}/{entry}/certificates").read_text()
    except OSError:
        return []
    blocks = [block for kind, block in pem_blocks(text) if kind == "CERTIFICATE"]
    info = certificate_info(blocks[0]) if blocks else None
    domains = info["domains"] if info else []
    return [str(d) for d in domains] if isinstance(domains, list) else []


def render_sni_conf(main_cert_domains: Sequence[str], entries: Mapping[str, Sequence[str]]) -> str:
    """/etc/dovecot/sni.conf as cPanel renders it (src/templates/dovecotSNI/main.default with
    Cpanel::AdvConfig::dovecotSNI's filter): the service certificate's names first; then, for each Domain
    TLS entry in sorted order (www. skipped), a block listing the names of its certificate not listed
    before. Not simulated: cPanel's skipping of domains without email accounts, wildcard pruning."""
    crt, key = SERVICE_LINKS["dovecot"]
    out = [
        "",
        "# DO NOT MODIFY THE NEXT LINE:",
        "# This version of dovecot supports: wildcards, multi local_name, explict maincert local_name.",
        "",
        "# Main cert for SNI",
    ]
    if main_cert_domains:
        out += [
            f'local_name "{" ".join(main_cert_domains)}" {{',
            f"    ssl_cert = <{crt}",
            f"    ssl_key = <{key}",
            "}",
        ]
    out += ["# END - Main cert for SNI", "", "# Domain TLS"]
    included = set(main_cert_domains)
    for entry in sorted(entries):
        if entry.startswith("www.") or entry in included:
            continue
        unseen = [name for name in entries[entry] if name not in included]
        if not unseen:
            continue
        included.update(unseen)
        combined = f"{DOMAIN_TLS}/{entry}/combined"
        out += [
            f'local_name "{" ".join(unseen)}" {{',
            f"    ssl_cert = <{combined}",
            f"    ssl_key = <{combined}",
            "}",
        ]
    out += ["# End Domain TLS", ""]
    return "\n".join(out)


def rebuild_sni_conf(root: Path, main_cert_domains: Sequence[str]) -> str:
    """Write sni.conf (mode 0640, so dovecot-lda skips it) from the Domain TLS entries; its path."""
    entries = {entry: certificate_domains(root, entry) for entry in domain_tls_entries(root)}
    write(root, SNI_CONF, render_sni_conf(main_cert_domains, entries), 0o640)
    return SNI_CONF


def log_call(root: Path, argv: Sequence[str]) -> None:
    """Append one API call's command line (JSON, one line) to the SIMULATOR's root-only call log."""
    path = host_path(root, CALLS_LOG)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        return  # a SIMULATOR record, not part of the API: never fails a call
    with os.fdopen(descriptor, "a") as log:
        log.write(json.dumps(list(argv)) + "\n")


def logged_calls(root: Path) -> list[list[str]]:
    path = host_path(root, CALLS_LOG)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def failing_calls(root: Path) -> set[str]:
    """SIMULATOR switch: API function names listed in /var/cpanel/mailcert-sim/fail-calls fail."""
    try:
        text = host_path(root, FAIL_CALLS).read_text()
    except OSError:
        return set()
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}
