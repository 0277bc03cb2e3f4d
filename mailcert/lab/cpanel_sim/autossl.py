"""SIMULATOR of an AutoSSL check for one cPanel user: certbot (against the lab's ACME server) stands in
for cPanel's AutoSSL provider. Like AutoSSL, it stores the new certificate in Domain TLS for each of the
user's domains and their `mail.` names, rebuilds the mail SNI config and reloads Dovecot.

As cPanel's, the check runs in the background: `start` returns the pid of a detached process at once;
`in_progress(user)` is what UAPI SSL::is_autossl_check_in_progress answers, and a failed check leaves its
reason in `problems(user)` (UAPI SSL::get_autossl_problems: `[{domain, problem, time}]`), changing nothing.
A second start while a check for the user runs fails (cPanel's CommandAlreadyRunning).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mailcert.lab import procs
from mailcert.lab.cpanel_sim import store

Result = tuple[dict[str, object] | None, str | None]


def _state(root: Path, user: str) -> Path:
    return store.host_path(root, f"{store.SIM_DIR}/autossl/{user}")


def _domains(root: Path, user: str) -> list[str]:
    return sorted(d for d, owner in store.user_domains(root).items() if owner == user)


def in_progress(root: Path, user: str) -> bool:
    try:
        pid = int((_state(root, user) / "running").read_text())
    except (OSError, ValueError):
        return False
    return procs.running(pid)


def problems(root: Path, user: str) -> list[dict[str, object]]:
    try:
        found = json.loads((_state(root, user) / "problems.json").read_text())
    except (OSError, ValueError):
        return []
    return found if isinstance(found, list) else []


def start(root: Path, user: str) -> Result:
    """Start the check in the background and return its pid (WHM start_autossl_check_for_one_user)."""
    if not _domains(root, user):
        return None, f"“{user}” is not a cPanel user."
    if in_progress(root, user):
        return None, f"An AutoSSL check for “{user}” is already running. (CommandAlreadyRunning)"
    state = _state(root, user)
    state.mkdir(parents=True, exist_ok=True)
    log = (state / "check.log").open("w")
    child = subprocess.Popen(
        [sys.executable, "-m", "mailcert.lab.cpanel_sim.autossl", str(root), user],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
    )  # fmt: skip
    log.close()
    (state / "running").write_text(str(child.pid))  # before returning: a caller polling at once sees it
    return {"pid": child.pid}, None


def check_user(root: Path, user: str) -> str | None:
    """The check itself (in the detached process): None, or the problem recorded for the user's domains."""
    domains = _domains(root, user)
    config = store.SimConfig.load(root)
    names = [n for d in domains for n in (d, f"mail.{d}")]
    work = _state(root, user)
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
        return f"AutoSSL (SIMULATOR, certbot) could not get a certificate: {said}"
    live = work / "config" / "live" / user
    key = (live / "privkey.pem").read_text()
    certificates = (live / "fullchain.pem").read_text()
    store.write_domain_tls(root, names, key, certificates, config.key_group)
    from mailcert.lab.cpanel_sim.whmapi1 import rebuild_mail_sni_config

    _, problem = rebuild_mail_sni_config(root, {"reload_dovecot": "1"})
    return problem


def main(argv: list[str]) -> int:
    root, user = Path(argv[0]), argv[1]
    state = _state(root, user)
    (state / "problems.json").unlink(missing_ok=True)
    try:
        problem = check_user(root, user)
    except Exception as error:  # noqa: BLE001 - a background check records every failure as a problem
        problem = f"AutoSSL (SIMULATOR) failed: {error}"
    if problem:
        now = int(time.time())
        found = [{"domain": d, "problem": problem, "time": now} for d in _domains(root, user)]
        (state / "problems.json").write_text(json.dumps(found))
    (state / "running").unlink(missing_ok=True)
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
