"""Realistic misconfigurations, planted the way they happen on real hosts: a config edit, a file swap,
a renewal nobody reloaded for. One small function per fault; the registry below is the data.

Faults marked `on_running_host` are planted after the daemons started and deliberately not followed
by a reload; all others are followed by a reload (or start) of the host's services, as an admin would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mailcert.lab import LabError
from mailcert.lab.certs import HostPKI
from mailcert.lab.kinds import DEBIAN13, EXIM_DOVECOT, POSTFIX_DOVECOT, kind_named
from mailcert.lab.kinds.dovecot import SSL_CONF, cert_settings
from mailcert.lab.kinds.exim import EXIM_CONF
from mailcert.lab.kinds.postfix import MAIN_CF, MASTER_CF
from mailcert.lab.layout import (
    DEPLOY_HOOK,
    LabHost,
    current_lineage_version,
    share_key,
    write_bytes,
    write_text,
)
from mailcert.lab.pki import cert_pem, key_pem, new_key, self_signed


@dataclass(frozen=True)
class FaultSite:
    host: LabHost
    pki: HostPKI


@dataclass(frozen=True)
class Fault:
    name: str
    summary: str  # what is wrong, in an admin's words
    client_sees: str  # what a mail client (or openssl s_client) observes
    plant: Callable[[FaultSite], None]
    on_running_host: bool = False
    replaces_certificate: bool = False  # at most one of these per host: they all swap the host's cert
    # the only kinds of lab host it can be planted on (first: the usual one); () any
    kinds: tuple[str, ...] = ()

    def fits(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


def _edit(site: FaultSite, host_path: str, pattern: str, replacement: str) -> None:
    path = site.host.path(host_path)
    text, count = re.subn(pattern, replacement, path.read_text(), flags=re.MULTILINE)
    if count == 0:
        raise LabError(
            f"cannot plant fault: no line matching {pattern!r}", where=f"{site.host.name}:{host_path}"
        )
    write_text(path, text)


def _runs(site: FaultSite, service: str) -> bool:
    return any(svc.name == service for svc in kind_named(site.host.kind).services)


def leaf_only(site: FaultSite) -> None:
    """The SMTP server points at certbot's cert.pem (leaf only) instead of fullchain.pem."""
    if _runs(site, "exim"):
        _edit(site, EXIM_CONF, r"^(tls_certificate = .*/)fullchain\.pem$", r"\1cert.pem")
    else:
        _edit(site, MAIN_CF, r"^(smtpd_tls_cert_file = .*/)fullchain\.pem$", r"\1cert.pem")


def expired(site: FaultSite) -> None:
    """Renewals stopped working: the lineage still holds a certificate that expired 10 days ago."""
    site.pki.renew(site.host, site.pki.issue(site.host.hostnames, age_days=100, days=90))


def name_mismatch(site: FaultSite) -> None:
    """The certificate was issued for mail.<domain> only; clients use imap., pop. and smtp. too."""
    site.pki.renew(site.host, site.pki.issue(site.host.hostnames[:1]))


def key_mismatch(site: FaultSite) -> None:
    """privkey.pem was overwritten with some other key (a copy from the wrong lineage)."""
    host = site.host
    version = current_lineage_version(host)
    key_file = host.path(f"/etc/letsencrypt/archive/{host.lineage}/privkey{version}.pem")
    write_bytes(key_file, key_pem(new_key()), 0o600)
    share_key(key_file, kind_named(host.kind).key_group)


def self_signed_cert(site: FaultSite) -> None:
    """Dovecot still uses the self-signed certificate made at package install (Debian's default paths)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed([site.host.fqdn], key, site.pki.now)
    write_bytes(site.host.path("/etc/dovecot/private/dovecot.pem"), cert_pem(cert), 0o644)
    write_bytes(site.host.path("/etc/dovecot/private/dovecot.key"), key_pem(key), 0o600)
    cert_setting, key_setting, lt = cert_settings(site.host)
    _edit(site, SSL_CONF, rf"^{cert_setting} = .*$", f"{cert_setting} = {lt}/etc/dovecot/private/dovecot.pem")
    _edit(site, SSL_CONF, rf"^{key_setting} = .*$", f"{key_setting} = {lt}/etc/dovecot/private/dovecot.key")


def stale(site: FaultSite) -> None:
    """certbot renewed the certificate on disk, but nothing reloaded the daemons: they serve the old one."""
    site.pki.renew(site.host, site.pki.issue(site.host.hostnames))


def dovecot_missing_lt(site: FaultSite) -> None:
    """`ssl_cert = /path` without `<`: Dovecot 2.3 takes the path itself as the certificate text (Dovecot 2.3
    hosts only: Fault.kinds)."""
    _edit(site, SSL_CONF, r"^ssl_cert = <", "ssl_cert = ")


def dovecot_file_lt(site: FaultSite) -> None:
    """`ssl_server_cert_file = </path` on Dovecot 2.4: the `<` of a 2.3 config carried over. 2.4 reads the file
    and takes the certificate text as a path: it refuses the config, so the reload after the edit changed
    nothing and the next restart leaves IMAP and POP3 down (debian13 hosts only: Fault.kinds)."""
    _edit(site, SSL_CONF, r"^ssl_server_cert_file = /", "ssl_server_cert_file = </")


def wrong_mode_587(site: FaultSite) -> None:
    """Port 587 made implicit TLS: Postfix `-o smtpd_tls_wrappermode=yes` under submission, Exim 587 in
    tls_on_connect_ports."""
    if _runs(site, "exim"):
        _edit(site, EXIM_CONF, r"^tls_on_connect_ports = 465$", "tls_on_connect_ports = 465 : 587")
    else:
        _edit(site, MASTER_CF, r"^(submission\s+inet .*\n)", r"\1  -o smtpd_tls_wrappermode=yes\n")


def wrong_mode_465(site: FaultSite) -> None:
    """Port 465 speaks plain SMTP + STARTTLS: the wrappermode line (Postfix) or tls_on_connect_ports
    (Exim) commented out."""
    if _runs(site, "exim"):
        _edit(site, EXIM_CONF, r"^(tls_on_connect_ports = .*)$", r"# \1")
    else:
        _edit(
            site,
            MASTER_CF,
            r"^(submissions\s+inet .*\n(?:.*\n)*?)  -o smtpd_tls_wrappermode=yes$",
            r"\1#  -o smtpd_tls_wrappermode=yes",
        )


def no_deploy_hook(site: FaultSite) -> None:
    """No certbot deploy hook: the next renewal lands on disk and the daemons keep the old certificate."""
    site.host.path(DEPLOY_HOOK).unlink(missing_ok=True)


def _doc(plant_fault: Callable[[FaultSite], None]) -> str:
    return " ".join((plant_fault.__doc__ or "").split())


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            "leaf-only",
            _doc(leaf_only),
            "25/465/587: chain of 1, untrusted (missing intermediate)",
            leaf_only,
        ),
        Fault(
            "expired",
            _doc(expired),
            "every port: certificate has expired",
            expired,
            replaces_certificate=True,
        ),
        Fault(
            "name-mismatch",
            _doc(name_mismatch),
            "every port: hostname mismatch for smtp./imap./pop.",
            name_mismatch,
            replaces_certificate=True,
        ),
        Fault(
            "key-mismatch",
            _doc(key_mismatch),
            "25/587: 454 TLS not available; 465/993/995: handshake fails",
            key_mismatch,
            replaces_certificate=True,
        ),
        Fault(
            "self-signed",
            _doc(self_signed_cert),
            "143/993/110/995: self-signed certificate",
            self_signed_cert,
            replaces_certificate=True,
        ),
        Fault(
            "stale",
            _doc(stale),
            "nothing yet (still valid), but 143/993/110/995 serve an older certificate than /etc/letsencrypt/live",
            stale,
            on_running_host=True,
        ),
        Fault(
            "dovecot-missing-lt",
            _doc(dovecot_missing_lt),
            "143/110: STARTTLS fails; 993/995: handshake fails",
            dovecot_missing_lt,
            kinds=(POSTFIX_DOVECOT.name, EXIM_DOVECOT.name),  # Dovecot 2.3's ssl_cert
        ),
        Fault(
            "dovecot-file-lt",
            _doc(dovecot_file_lt),
            "nothing while Dovecot runs on the config it loaded before; after a restart 143/993/110/995 refuse"
            " connections",
            dovecot_file_lt,
            on_running_host=True,
            kinds=(DEBIAN13.name,),  # Dovecot 2.4's ssl_server_cert_file
        ),
        Fault(
            "wrong-mode-587",
            _doc(wrong_mode_587),
            "587: no banner, a TLS handshake works",
            wrong_mode_587,
        ),
        Fault(
            "wrong-mode-465",
            _doc(wrong_mode_465),
            "465: plain `220` banner, TLS handshake fails",
            wrong_mode_465,
        ),
        Fault(
            "no-deploy-hook",
            _doc(no_deploy_hook),
            "nothing until the next renewal, which the daemons then miss",
            no_deploy_hook,
        ),
    )
}


def _add_cpanel_faults() -> None:
    """cPanel's faults live beside the cPanel SIMULATOR (they plant on `cpanel` hosts only)."""
    from mailcert.lab.cpanel_sim.faults import cpanel_faults

    FAULTS.update({fault.name: fault for fault in cpanel_faults()})


_add_cpanel_faults()

# `--faults demo`: a representative mix, one set per host in turn.
DEMO_MIX: tuple[tuple[str, ...], ...] = (
    ("stale", "no-deploy-hook"),
    ("leaf-only", "wrong-mode-587", "dovecot-missing-lt"),
    ("name-mismatch",),
    ("expired", "wrong-mode-465"),
    ("self-signed",),
    ("key-mismatch",),
    (),
)


def fault_named(name: str) -> Fault:
    try:
        return FAULTS[name]
    except KeyError:
        raise LabError(
            f"unknown fault {name!r}", todo=f"choose from: none, demo, {', '.join(FAULTS)} (or HOST:FAULT)"
        ) from None


def assign_faults(
    spec: str, hosts: Sequence[str], kinds: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """`--faults` → faults per host. `none`; `demo`; `NAME` (every host); `HOST:NAME` (that host).

    With `kinds` (host → kind), a fault that cannot exist on a host's kind is refused here, before anything
    is built."""
    plan: dict[str, list[str]] = {host: [] for host in hosts}
    for word in (w.strip() for w in spec.split(",")):
        if word in ("", "none"):
            continue
        if word == "demo":
            for index, host in enumerate(hosts):
                plan[host] += [
                    _demo_fault(n, (kinds or {}).get(host)) for n in DEMO_MIX[index % len(DEMO_MIX)]
                ]
            continue
        host, _, name = word.rpartition(":")
        fault_named(name)
        if host and host not in plan:
            raise LabError(
                f"--faults {word}: no lab host named {host!r}", todo=f"hosts are: {', '.join(hosts)}"
            )
        for target in [host] if host else hosts:
            if name not in plan[target]:
                plan[target].append(name)
    for host, names in plan.items():
        replacing = [n for n in names if FAULTS[n].replaces_certificate]
        if len(replacing) > 1:
            raise LabError(
                f"--faults: {host} would get {' and '.join(replacing)}, which each replace the certificate",
                todo="give each host at most one of expired, name-mismatch, key-mismatch, self-signed",
            )
        kind = (kinds or {}).get(host)
        misfits = [n for n in names if kind is not None and not FAULTS[n].fits(kind)]
        if misfits:
            raise misfit(misfits[0], host, kind or "")
    return plan


# The same mistake in each Dovecot's syntax: `demo` plants the one the host's Dovecot can have.
_DEMO_STAND_INS = {"dovecot-missing-lt": "dovecot-file-lt", "dovecot-file-lt": "dovecot-missing-lt"}


def _demo_fault(name: str, kind: str | None) -> str:
    stand_in = _DEMO_STAND_INS.get(name)
    if kind is not None and not FAULTS[name].fits(kind) and stand_in and FAULTS[stand_in].fits(kind):
        return stand_in
    return name


def misfit(name: str, host: str, kind: str) -> LabError:
    """A fault asked for on a host whose kind cannot have it, as one line."""
    fits = " or ".join(FAULTS[name].kinds)
    return LabError(
        f"{name} cannot be planted on {host}, a {kind} host: it exists on {fits} hosts only",
        todo=f"plant it on a {fits} host (`--kind`), or leave it out",
    )


def plant(fault: Fault, site: FaultSite) -> None:
    fault.plant(site)


__all__ = ["DEMO_MIX", "FAULTS", "Fault", "FaultSite", "assign_faults", "fault_named", "misfit", "plant"]
