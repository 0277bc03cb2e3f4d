"""SIMULATOR of an AutoSSL check for one cPanel user: certbot (against the lab's ACME server) stands in
for cPanel's AutoSSL provider. Like AutoSSL, it stores the new certificate in Domain TLS for each of the
user's domains and their `mail.` names, rebuilds the mail SNI config and reloads Dovecot.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mailcert.lab.cpanel_sim import store

Result = tuple[dict[str, object] | None, str | None]


def check_user(root: Path, user: str) -> Result:
    """Run the check now (the real API returns a pid and checks in the background)."""
    domains = sorted(d for d, owner in store.user_domains(root).items() if owner == user)
    if not domains:
        return None, f"“{user}” is not a cPanel user."
    config = store.SimConfig.load(root)
    names = [n for d in domains for n in (d, f"mail.{d}")]
    work = store.host_path(root, f"{store.SIM_DIR}/autossl/{user}")
    argv = [
        "certbot", "certonly", "--standalone", "--non-interactive", "--agree-tos", "--no-random-sleep-on-renew",
        "--email", config.acme_email, "--server", config.acme_server, "--cert-name", user,
        "--config-dir", str(work / "config"), "--work-dir", str(work / "work"), "--logs-dir", str(work / "logs"),
        "--force-renewal", *(a for n in names for a in ("-d", n)),
    ]  # fmt: skip
    env = {**os.environ, "REQUESTS_CA_BUNDLE": config.acme_ca_bundle}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=300)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"AutoSSL (SIMULATOR, certbot) could not get a certificate for {user}: {said}"
    live = work / "config" / "live" / user
    key = (live / "privkey.pem").read_text()
    certificates = (live / "fullchain.pem").read_text()
    store.write_domain_tls(root, names, key, certificates, config.key_group)
    from mailcert.lab.cpanel_sim.whmapi1 import rebuild_mail_sni_config

    _, problem = rebuild_mail_sni_config(root, {"reload_dovecot": "1"})
    if problem:
        return None, problem
    return {"pid": os.getpid()}, None
