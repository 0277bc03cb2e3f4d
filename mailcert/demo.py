"""`make demo`: a lab of real mail hosts with realistic certificate faults, and mailcert finding them.

Steps: `lab up --faults demo` → what a plain mail client sees on every port → `mailcert audit` → `fix -y`
→ `audit` again → what the client sees now. Each mailcert step runs the real CLI in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from mailcert.errors import MailcertError
from mailcert.lab import lifecycle
from mailcert.lab.client import client_view
from mailcert.lab.faults import FAULTS
from mailcert.lab.kinds import DEBIAN13, EXIM_DOVECOT, KINDS, POSTFIX_DOVECOT, kind_named
from mailcert.lab.layout import LabHost
from mailcert.lab.state import LabState
from mailcert.ports import STANDARD_PORTS

LAB_DIR = Path("lab")
# The lab names a host's endpoints by dialogue: smtp.DOMAIN, imap.DOMAIN, pop.DOMAIN.
PORT_NAME = {port: {"pop3": "pop"}.get(role.protocol, role.protocol) for port, role in STANDARD_PORTS.items()}


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text}")


def mailcert_cli(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("mailcert")
    argv = (
        [str(script)] if script.exists() else [sys.executable, "-c", "from mailcert.cli import main; main()"]
    )
    return subprocess.run([*argv, *args], capture_output=True, text=True, check=False, timeout=600)


def show(result: subprocess.CompletedProcess[str], what: str) -> None:
    out = (result.stdout + result.stderr).rstrip()
    say(out if out else f"({what}: no output)")
    say(f"-- {what}: exit code {result.returncode} (0 OK, 1 warnings, 2 critical, 3 could not check)")


def bring_up() -> tuple[tuple[LabHost, ...], dict[str, list[str]]]:
    if LabState.load(LAB_DIR.resolve()) is not None:
        say(f"Removing the previous demo lab under {LAB_DIR}/ first.")
        lifecycle.down(LAB_DIR, say=lambda _: None)
    started = time.monotonic()
    # The first host runs Debian 13 (Postfix 3.10, Dovecot 2.4) when scripts/install-debian13 has built its
    # root, the last one Exim when scripts/install-exim has put it in place; `make demo` installs both.
    kinds = [
        DEBIAN13.name if DEBIAN13.name in KINDS else POSTFIX_DOVECOT.name,
        POSTFIX_DOVECOT.name,
        EXIM_DOVECOT.name if EXIM_DOVECOT.name in KINDS else POSTFIX_DOVECOT.name,
    ]
    result = lifecycle.up(LAB_DIR, len(kinds), "demo", kinds, say=say)
    say(
        f"Lab up: {len(result.hosts)} hosts in {time.monotonic() - started:.1f} s; inventory {LAB_DIR}/inventory.yml"
    )
    for host in result.hosts:
        faults = result.faults[host.name]
        say(f"  {host.name} {host.address} ({host.kind})  {', '.join(host.hostnames)}")
        for name in faults or ["none"]:
            say(f"      planted {name}: {FAULTS[name].summary if name in FAULTS else 'a healthy host'}")
    return result.hosts, result.faults


def client_views(hosts: tuple[LabHost, ...], faults: dict[str, list[str]]) -> None:
    heading("What a mail client sees (Python ssl, trusting only lab/ca-bundle.pem)")
    bundle = str(LAB_DIR.resolve() / "ca-bundle.pem")
    for host in hosts:
        say(f"  {host.name}:")
        for port in sorted(kind_named(host.kind).ports):
            name = f"{PORT_NAME[port]}.{host.domain}"
            say(f"    {port:>3} {name:<28} {client_view(host.address, port, name, bundle)}")
        for fault in faults.get(host.name, []):
            say(f"        planted {fault}: a client sees {FAULTS[fault].client_sees}")


def main() -> int:
    if os.geteuid() != 0:
        say("mailcert demo: the lab needs root (network namespaces, bind mounts) — run `sudo make demo`")
        return 3
    heading("mailcert demo: mail hosts with the certificate mistakes that make Outlook and iPhones complain")
    try:
        hosts, faults = bring_up()
    except MailcertError as exc:
        say(f"mailcert demo: {exc.line()}")
        return 3
    client_views(hosts, faults)
    say("\nThose are the symptoms. Now mailcert finds the causes, from the servers' side:")
    inventory = str(LAB_DIR / "inventory.yml")
    heading(f"mailcert -I {inventory} audit   (SSH into every host, read its config, probe every port)")
    show(mailcert_cli("-I", inventory, "audit"), "audit")
    heading(
        f"mailcert -I {inventory} fix -y   (plan, certbot against the lab's ACME server, apply, reload, re-probe)"
    )
    show(mailcert_cli("-I", inventory, "fix", "-y"), "fix")
    heading(f"mailcert -I {inventory} audit   (again: what is left)")
    show(mailcert_cli("-I", inventory, "audit"), "audit")
    client_views(hosts, {})
    say()
    say("The lab stays up: try `mailcert lab status`, `mailcert lab exec mx1 -- postconf -n`,")
    say(f"`mailcert audit -I {inventory}`; remove it with `mailcert lab down`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
