"""Central issuance, planning side (`mailcert_acme_mode: central`): which certificate the host's services
use, whether it must be issued or renewed, and the certbot command the control machine runs for it.

The certificate lives on the host in `mailcert_central_cert_dir/NAME/` (default /etc/mailcert/live/NAME:
privkey.pem, cert.pem, chain.pem, fullchain.pem). The key is made (or kept) on the host and never leaves
it; the control machine gets only the CSR, runs certbot from its own Python environment with its own
config/work/logs folders (`mailcert_central_state_dir`), and sends back only the certificate and chain.

DNS-01 through certbot-dns-rfc2136 (`mailcert_acme_challenge: dns-rfc2136`). Its credentials come from a
file (`mailcert_acme_dns_credentials`: a certbot-dns-rfc2136 credentials file on the control machine) or
an environment variable named in the inventory (`mailcert_acme_dns_credentials_env`: holds that file's
text). A secret written into the inventory itself is refused.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from cryptography import x509

from mailcert.errors import MailcertError
from mailcert.fix import values
from mailcert.fix.model import Command
from mailcert.fix.plan.acme import SERVERS, Target, host_names
from mailcert.fix.plan.base import PlanState
from mailcert.fix.plan.central_names import refused_reason, split_granted
from mailcert.inventory.model import InventoryHost
from mailcert.pki.certinfo import has_san, is_self_signed, spki_der
from mailcert.pki.names import covers, is_ip

CERT_DIR_VAR = "mailcert_central_cert_dir"
CREDENTIALS_VAR = "mailcert_acme_dns_credentials"
CREDENTIALS_ENV_VAR = "mailcert_acme_dns_credentials_env"
PLUGIN = "dns-rfc2136"


class CentralError(MailcertError):
    """Central issuance cannot be planned or did not work; the host was left as it was."""


def cert_dir(host: InventoryHost, name: str) -> str:
    base = host.fix.central_cert_dir
    values.path(base, CERT_DIR_VAR)
    return f"{base.rstrip('/')}/{values.lineage_name(name)}"


def state_dir(host: InventoryHost) -> Path:
    """The control machine's folder for certbot's account, work and logs, and the CSRs and certificates."""
    if host.fix.central_state_dir is None:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(base) / "mailcert" / "central"
    return Path(host.fix.central_state_dir)


def renew_days(host: InventoryHost) -> int:
    return max(host.fix.renew_before_days, host.warn_days)


def refuse_inline_secrets(host: InventoryHost) -> None:
    """A TSIG secret or a credentials file's text in the inventory is refused with one line."""
    if host.fix.inline_secret is not None:
        raise CentralError(
            f"refusing the inline secret {host.fix.inline_secret} in the inventory (secrets are never read from it)",
            where=host.name,
            todo=f"put the certbot-dns-rfc2136 credentials in a file named by {CREDENTIALS_VAR}, "
            f"or in an environment variable named by {CREDENTIALS_ENV_VAR}",
        )
    value = host.fix.acme_dns_credentials
    if value is not None and ("\n" in value or "=" in value):
        raise CentralError(
            f"{CREDENTIALS_VAR} holds text, not a file path: refusing an inline secret",
            where=host.name,
            todo=f"write the credentials to a file (mode 600) and set {CREDENTIALS_VAR} to its path",
        )


def credentials_source(host: InventoryHost) -> str | None:
    """Where the DNS credentials come from, for the plan ("file PATH" / "environment NAME"); None: not set."""
    refuse_inline_secrets(host)
    if host.fix.acme_dns_credentials:
        return f"file {host.fix.acme_dns_credentials}"
    if host.fix.acme_dns_credentials_env:
        return f"environment {host.fix.acme_dns_credentials_env}"
    return None


def propagation(host: InventoryHost) -> int:
    return host.fix.acme_dns_propagation_seconds


def certbot_argv(
    host: InventoryHost, name: str, names: tuple[str, ...], *, csr: str, out: str, credentials: str
) -> list[str]:
    """The certbot command run on the control machine (paths on the control machine)."""
    server = values.url(SERVERS.get(host.acme_server, host.acme_server), "mailcert_acme_server")
    argv = ["certbot", "certonly", "--non-interactive", "--agree-tos", "--cert-name", name]
    for n in names:
        argv += ["-d", values.hostname(n, "a certificate name (CSR subjectAltName)")]
    argv += ["--email", values.email(host.acme_email or ""), "--server", server, "--csr", csr]
    argv += ["--cert-path", f"{out}/cert.pem", "--chain-path", f"{out}/chain.pem"]
    argv += ["--fullchain-path", f"{out}/fullchain.pem"]
    argv += ["--preferred-challenges", "dns", "--dns-rfc2136", "--dns-rfc2136-credentials", credentials]
    argv += ["--dns-rfc2136-propagation-seconds", str(propagation(host))]
    root = state_dir(host)
    argv += ["--config-dir", str(root / "config"), "--work-dir", str(root / "work")]
    argv += ["--logs-dir", str(root / "logs")]
    return argv


def shown_command(host: InventoryHost, name: str, names: tuple[str, ...]) -> Command:
    """What the plan shows and the applier runs: certbot on the control machine for the host's CSR."""
    root = state_dir(host) / host.name / name
    source = credentials_source(host) or "(not set)"
    argv = certbot_argv(
        host, name, names, csr=str(root / "csr.pem"), out=str(root / "new"),
        credentials=f"<{source}>" if source.startswith("environment") else source.removeprefix("file "),
    )  # fmt: skip
    return Command(tuple(argv))


def _current(state: PlanState, live_dir: str, names: list[str], bad: set[str]) -> str | None:
    """None when the central certificate covers the names and is healthy; else why it must be (re)issued."""
    fullchain = f"{live_dir}/fullchain.pem"
    facts = state.files.pem_file(fullchain)
    if not facts.exists or facts.error or not facts.certificates:
        return "issue"
    if fullchain in bad:
        return "renew"
    leaf = x509.load_der_x509_certificate(facts.certificates[0])
    if not has_san(leaf) or is_self_signed(leaf):
        return "renew"
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = [n.lower() for n in sans.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    if not all(covers(dns, ips, n) for n in names if not is_ip(n) or n in ips):
        return "renew"
    if leaf.not_valid_after_utc - state.now <= timedelta(days=renew_days(state.host)):
        return "renew"
    keys = state.files.pem_file(f"{live_dir}/privkey.pem").keys
    if not keys or keys[0].public_key_der != spki_der(leaf):
        return "renew"
    return None


def central_target(state: PlanState, bad_files: set[str]) -> Target | None:
    """The host's central certificate: used as it is, or issued/renewed through the control machine."""
    host = state.host
    wanted = host_names(state)
    if not wanted:
        return None
    # Only names the inventory grants are requested (central_names); the rest stay findings.
    names, refused = split_granted(wanted, host)
    if refused:
        state.cannot(refused_reason(refused))
    chosen = host.fix.cert_name
    if not names:
        name = chosen or "mailcert"
        return Target(name, cert_dir(host, name), (), "issue", None, refused_reason(refused))
    name = chosen or names[0].removeprefix("*.")
    live_dir = cert_dir(host, name)
    action = _current(state, live_dir, names, set(bad_files))
    if action is None:
        return Target(name, live_dir, tuple(names), "use")
    why = _why_not(host)
    if why:
        return Target(name, live_dir, tuple(names), action, None, why)
    command = shown_command(host, name, tuple(names))
    return Target(name, live_dir, tuple(names), action, command)


def _why_not(host: InventoryHost) -> str | None:
    if not host.acme_email:
        return f"no certificate can be issued: mailcert_acme_email is not set for {host.name}"
    if host.acme_challenge != PLUGIN:
        return (
            f"mailcert_acme_mode central issues through DNS-01: set mailcert_acme_challenge to {PLUGIN} "
            f"(it is {host.acme_challenge!r})"
        )
    if credentials_source(host) is None:
        return (
            f"mailcert_acme_mode central needs the DNS update credentials: {CREDENTIALS_VAR} (a "
            f"certbot-dns-rfc2136 credentials file) or {CREDENTIALS_ENV_VAR} (an environment variable) must be set"
        )
    return None
