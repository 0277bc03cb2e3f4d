"""ACME in host mode: run the plan's certbot command on the mail host, and say why it failed in one line.

The command is an argument list (no shell): environment values go through `env NAME=VALUE`, and
`certbot renew` always gets `--no-random-sleep-on-renew` (without a terminal it would sleep up to 8 min).
"""

from __future__ import annotations

import re
import signal

from mailcert.errors import MailcertError
from mailcert.fix.model import Command
from mailcert.fix.remote import run_as_root
from mailcert.ssh import StrictConnection

CERTBOT_TIMEOUT = 600
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CertbotError(MailcertError):
    """certbot did not issue or renew; nothing else was changed on the host."""


def certbot_argv(command: Command, *, email: str | None = None) -> list[str]:
    """The argument list that runs `command` as root on the host (env first, when it has any).

    `renew` never sleeps, and gets `--agree-tos --email EMAIL` (the inventory's mailcert_acme_email)
    when it names no contact: a lineage made without certbot's account on this host (copied, restored
    from backup) cannot renew non-interactively otherwise ("You should register before running
    non-interactively")."""
    argv = list(command.argv)
    if not argv or any("\x00" in word for word in argv):
        raise ValueError("empty or NUL-holding certbot command in the plan")
    if "renew" in argv[1:] and "--no-random-sleep-on-renew" not in argv:
        argv.append("--no-random-sleep-on-renew")
    contact = ("--email", "-m", "--register-unsafely-without-email")
    if "renew" in argv[1:] and email and not any(word in argv for word in contact):
        if email.startswith("-") or any(c.isspace() for c in email):
            raise ValueError(f"bad mailcert_acme_email {email!r}")
        argv += ["--email", email] + ([] if "--agree-tos" in argv else ["--agree-tos"])
    if "--non-interactive" not in argv and "-n" not in argv:
        argv.insert(2 if len(argv) > 1 else 1, "--non-interactive")
    if not command.env:
        return argv
    for name, value in command.env:
        if not _ENV_NAME.match(name) or "\x00" in value:
            raise ValueError(f"bad environment variable in the plan: {name!r}")
    return ["env", *(f"{name}={value}" for name, value in command.env), *argv]


# certbot runs under a shell that outlives it: killed by a signal, its status reaches us as 128+N (sudo
# re-raises a child's fatal signal on itself, and sshd then sends no exit status at all).
SIGNAL_SAFE = ("sh", "-c", '"$@"; exit $?', "mailcert-certbot")


def run_certbot(conn: StrictConnection, command: Command, *, email: str | None = None) -> str:
    """Run certbot on the host; its output on success. On failure raise CertbotError with certbot's reason."""
    output = run_as_root(conn, [*SIGNAL_SAFE, *certbot_argv(command, email=email)], timeout=CERTBOT_TIMEOUT)
    if output.exit_status == 0:
        return output.stdout
    reason = killed_by(output.exit_status) or certbot_reason(output.stdout + output.stderr)
    raise CertbotError(
        f"certbot failed (exit {output.exit_status}): {reason}",
        where=conn.name,
        todo="nothing else was changed on this host; fix the cause and run fix again",
    )


def killed_by(status: int) -> str | None:
    """`certbot was killed (SIGKILL) …` for a shell's 128+N status, None for certbot's own exit codes."""
    if not 128 < status < 128 + 65:
        return None
    try:
        name = signal.Signals(status - 128).name
    except ValueError:
        name = f"signal {status - 128}"
    return (
        f"certbot was killed ({name}) on the host before it finished: its lineage is as certbot left it, "
        "no configuration was switched"
    )


def certbot_reason(text: str) -> str:
    """certbot's reason for failing, in one line (recorded phrasings of certbot 2.x)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    details = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Detail:")]
    lowered = text.lower()
    if "some challenges have failed" in lowered:
        return "the ACME server could not validate the names" + (
            f": {'; '.join(details)[:400]}" if details else ""
        )
    if "could not bind" in lowered or "problem binding to port" in lowered:
        port = re.search(r"(?:port|TCP port) (\d+)", text)
        return (
            f"certbot --standalone could not bind port {port.group(1) if port else 80}: "
            "another program (a web server?) listens there — use the webroot challenge or free the port"
        )
    if "ratelimited" in lowered or ("too many" in lowered and "certificates" in lowered):
        said = next((ln for ln in lines if "too many" in ln.lower() or "ratelimit" in ln.lower()), "")
        return f"the ACME server's rate limit was hit: {said[:300]}"
    if (
        "connection refused" in lowered
        or "max retries exceeded" in lowered
        or "failed to establish" in lowered
    ):
        url = re.search(r"host='([^']+)', port=(\d+)", text)
        requesting = re.search(r"Requesting (\S+?):? Connection refused", text)
        where = (
            f" ({url.group(1)}:{url.group(2)})" if url else f" ({requesting.group(1)})" if requesting else ""
        )
        return f"cannot reach the ACME server{where}: connection refused or no answer — is it running and reachable from the host?"
    if "certificate verify failed" in lowered:
        return "certbot does not trust the ACME server's certificate — set mailcert_acme_ca_bundle"
    if "command not found" in lowered or ("no such file or directory" in lowered and "certbot" in lowered):
        return "certbot is not installed on the host (apt-get install certbot / dnf install certbot)"
    return _said(lines)[:400]


_BOILERPLATE = ("ask for help", "see the logfile", "saving debug log", "requesting a certificate")


def _said(lines: list[str]) -> str:
    """certbot's own error line: the one after "An unexpected error occurred:", else the last error-ish
    line, else the last line that is not certbot's boilerplate."""
    for line in lines:  # certbot renew: "Failed to renew certificate NAME with error: WHY"
        if line.startswith("Failed to renew certificate") and " with error: " in line:
            return line.split(" with error: ", 1)[1]
    for index, line in enumerate(lines):
        if line.lower().startswith("an unexpected error occurred") and index + 1 < len(lines):
            return lines[index + 1]
    useful = [ln for ln in lines if not ln.lower().startswith(_BOILERPLATE)]
    errors = [ln for ln in useful if "error" in ln.lower() or "failed" in ln.lower()]
    if errors:
        return errors[-1]
    return useful[-1] if useful else "no output"


class InstallError(MailcertError):
    """The package manager did not install certbot; nothing else was changed on the host."""


INSTALL_TIMEOUT = 900


def install_argv(command: Command) -> list[str]:
    """The package manager's argument list as root (`env NAME=VALUE` first when it has environment)."""
    argv = list(command.argv)
    if not argv or any("\x00" in word for word in argv):
        raise ValueError("empty or NUL-holding install command in the plan")
    for name, value in command.env:
        if not _ENV_NAME.match(name) or "\x00" in value:
            raise ValueError(f"bad environment variable in the plan: {name!r}")
    return ["env", *(f"{name}={value}" for name, value in command.env), *argv] if command.env else argv


def run_install(conn: StrictConnection, command: Command) -> None:
    """Install certbot with the host's package manager; InstallError with its reason in one line."""
    output = run_as_root(conn, install_argv(command), timeout=INSTALL_TIMEOUT)
    if output.exit_status == 0:
        return
    raise InstallError(
        f"installing certbot failed ({command.argv[0]} exit {output.exit_status}): "
        f"{install_reason(output.stdout + output.stderr)}",
        where=conn.name,
        todo="nothing else was changed on this host; install certbot by hand or fix the cause, then run fix again",
    )


def install_reason(text: str) -> str:
    """The package manager's reason in one line: apt's `E:` line, dnf/yum's `Error:` line, else the last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    said = [ln for ln in lines if ln.startswith(("E:", "Error:", "error:"))]
    if not said:
        said = [ln for ln in lines if "no match for argument" in ln.lower() or "not found" in ln.lower()]
    line = (said[0] if said else lines[-1] if lines else "no output")[:300]
    lowered = line.lower()
    if "unable to locate package" in lowered:
        line += " (the package lists may be missing or old: run `apt-get update` on the host)"
    elif "unable to find a match" in lowered or "no match for argument" in lowered:
        line += " (on RHEL-likes certbot comes from EPEL: install epel-release first)"
    return line
