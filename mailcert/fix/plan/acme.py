"""Certificates for the host: which certbot lineage the services should use, and the certbot command
(issue, expand or renew) that makes it cover every advertised hostname of the host.

One lineage per host: the names are the union of what clients use (inventory mailcert_hostnames, else the
names in the configuration). A lineage already covering them and healthy is used as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509

from mailcert.checks.renewal_uses import cert_uses, lineage_uses
from mailcert.fix import values
from mailcert.fix.model import Command
from mailcert.fix.plan.base import PlanState
from mailcert.pki.certinfo import has_san, is_self_signed, spki_der
from mailcert.pki.names import covers
from mailcert.services.certbot.model import Lineage

SERVERS = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}


@dataclass(frozen=True)
class Target:
    """The lineage every service should use, and how it comes to cover the names.

    `action` is "use" (nothing to run), "issue" (new lineage), "expand" (add names) or "renew" (force a new
    certificate for the same names). `command` is None when it cannot be run; `why_not` says why.
    """

    name: str
    live_dir: str
    names: tuple[str, ...]
    action: str
    command: Command | None = None
    why_not: str | None = None

    @property
    def fullchain(self) -> str:
        return f"{self.live_dir}/fullchain.pem"

    @property
    def privkey(self) -> str:
        return f"{self.live_dir}/privkey.pem"

    @property
    def usable(self) -> bool:
        return self.action == "use" or self.command is not None


def host_names(state: PlanState) -> list[str]:
    """Names every TLS service must cover: the inventory's, else the names found in the configuration."""
    host = state.host
    names = list(host.hostnames)
    for service_names in host.service_hostnames.values():
        names += list(service_names)
    if not names:
        names = [n for service in state.model.services for n in service.config_names]
    return list(dict.fromkeys(n.lower().rstrip(".") for n in names if n))


def lineage_covers(lineage: Lineage, names: list[str]) -> bool:
    dns = [n for n in lineage.names if not values_is_ip(n)]
    ips = [n for n in lineage.names if values_is_ip(n)]
    return bool(names) and all(covers(dns, ips, name) for name in names)


def values_is_ip(name: str) -> bool:
    from mailcert.pki.names import is_ip

    return is_ip(name)


def lineage_healthy(state: PlanState, lineage: Lineage) -> bool:
    """Readable, renewable, not expiring within warn_days, SAN present, not self-signed, key matches."""
    if lineage.conf_error or lineage.cert_error or lineage.leaf_der is None or lineage.not_after is None:
        return False
    if lineage.not_after - state.now <= timedelta(days=state.host.warn_days):
        return False
    leaf = x509.load_der_x509_certificate(lineage.leaf_der)
    if not has_san(leaf) or is_self_signed(leaf):
        return False
    keys = state.files.pem_file(lineage.privkey).keys
    return bool(keys) and keys[0].public_key_der == spki_der(leaf)


def used_lineages(state: PlanState) -> list[str]:
    return sorted(lineage_uses(state.certbot, cert_uses(state.model.services, state.files)))


def choose_target(state: PlanState, bad_files: set[str] = frozenset()) -> Target | None:  # type: ignore[assignment]
    """The host's lineage; None when no names are known (nothing to issue for). `bad_files` are certificate
    files lint found problems in: a lineage whose fullchain is one of them is not healthy."""
    if state.host.acme_mode == "central":  # certbot on the control machine, key on the host: fix/central*.py
        from mailcert.fix.plan.central import central_target

        return central_target(state, bad_files)
    names = host_names(state)
    if not names:
        return None
    used = used_lineages(state)
    renewable = [lineage for lineage in state.certbot.lineages if not lineage.conf_error]
    chosen = state.host.fix.cert_name
    if chosen:
        # the inventory names the lineage: only that one is used, expanded or issued
        renewable = [lineage for lineage in renewable if lineage.name == values.lineage_name(chosen)]
        used = [name for name in used if name == chosen] or [chosen]
    preferred = sorted(
        renewable, key=lambda lineage: (lineage.name not in used, lineage.sequence, lineage.name)
    )
    for lineage in preferred:
        if lineage.fullchain in bad_files:
            continue
        if lineage_covers(lineage, names) and lineage_healthy(state, lineage):
            return Target(lineage.name, lineage.live_dir, tuple(lineage.names), "use")
    for lineage in preferred:
        if lineage_covers(lineage, names):
            return _renew(state, lineage)
    for lineage in preferred:
        if lineage.name in used:
            wanted = list(dict.fromkeys([*lineage.names, *names]))
            return _certonly(state, lineage.name, lineage.live_dir, wanted, expand=True, lineage=lineage)
    name = chosen if isinstance(chosen, str) and chosen else names[0].removeprefix("*.")
    live_dir = f"{state.certbot.config_dir}/live/{name}"
    existing = state.certbot.lineage(name)
    if existing is not None:
        wanted = list(dict.fromkeys([*existing.names, *names]))
        return _certonly(state, name, live_dir, wanted, expand=True, lineage=existing)
    return _certonly(state, name, live_dir, names, expand=False, lineage=None)


def _env(state: PlanState) -> tuple[tuple[str, str], ...]:
    bundle = state.host.acme_ca_bundle
    return (("REQUESTS_CA_BUNDLE", values.path(bundle, "mailcert_acme_ca_bundle")),) if bundle else ()


def _renew(state: PlanState, lineage: Lineage) -> Target:
    values.lineage_name(lineage.name)
    argv: tuple[str, ...] = (
        "certbot",
        "renew",
        "--cert-name",
        lineage.name,
        "--force-renewal",
        "--no-random-sleep-on-renew",
    )
    if (
        state.host.acme_email
    ):  # a lineage whose account is not on this host must register first: non-interactive
        argv += ("--agree-tos", "--email", values.email(state.host.acme_email))
    return Target(lineage.name, lineage.live_dir, tuple(lineage.names), "renew", Command(argv, _env(state)))


def _certonly(
    state: PlanState, name: str, live_dir: str, names: list[str], *, expand: bool, lineage: Lineage | None
) -> Target:
    action = "expand" if expand else "issue"
    values.lineage_name(name)
    for n in names:
        values.hostname(n, "a certificate name (certbot -d)")
    host = state.host
    if not host.acme_email:
        why = (
            f"no certificate can be {'expanded' if expand else 'issued'}: mailcert_acme_email is not set for "
            f"{host.name} (the ACME account needs a contact); set it in the inventory"
        )
        return Target(name, live_dir, tuple(names), action, None, why)
    if host.acme_mode != "host":
        why = f"mailcert_acme_mode {host.acme_mode!r}: only `host` (certbot on the mail host) is planned"
        return Target(name, live_dir, tuple(names), action, None, why)
    server = values.url(SERVERS.get(host.acme_server, host.acme_server), "mailcert_acme_server")
    argv = ["certbot", "certonly", "--non-interactive", "--agree-tos", "--cert-name", name]
    for n in names:
        argv += ["-d", n]
    argv += ["--server", server, "--email", values.email(host.acme_email)]
    challenge = host.acme_challenge
    if challenge == "standalone":
        argv.append("--standalone")
    elif challenge == "webroot":
        if not host.acme_webroot:
            why = "mailcert_acme_challenge is webroot but mailcert_acme_webroot is not set"
            return Target(name, live_dir, tuple(names), action, None, why)
        argv += ["--webroot", "-w", values.path(host.acme_webroot, "mailcert_acme_webroot")]
    elif challenge.startswith("dns-"):
        argv.append("--" + values.dns_plugin(challenge))
    else:
        why = f"mailcert_acme_challenge {challenge!r} is not standalone, webroot or dns-PLUGIN"
        return Target(name, live_dir, tuple(names), action, None, why)
    if host.reuse_key:
        if lineage is not None and lineage.key_type:
            argv += ["--key-type", values.dns_plugin(lineage.key_type)]
        argv.append("--reuse-key")
    if expand:
        argv.append("--expand")
    return Target(name, live_dir, tuple(names), action, Command(tuple(argv), _env(state)))
