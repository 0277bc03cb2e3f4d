"""The client matrix: what each real TLS stack (OpenSSL, GnuTLS, NSS, Python ssl) says about every fault of the
lab's catalogue on every mail port. One lab, one host per fault (plus a healthy one) of the kind the fault needs
(postfix-dovecot, debian13, cpanel), all planted at `lab up`, then every (host, port) asked in parallel under the
name a client of that host uses on that port.

`make clients` (`python -m mailcert.lab.client_matrix`) records it into docs/clients.md (the table people read)
and docs/clients.json (the same rows, for the tests). A fault a stack does not reject is recorded as such: a
fact about that stack, not a failure of the recording.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from mailcert.lab import LabError, lifecycle
from mailcert.lab.faults import FAULTS
from mailcert.lab.layout import LabHost
from mailcert.lab.matrix_hosts import client_name, host_kind, shown_name
from mailcert.lab.stacks import STACK_TOOLS, STACKS, StackVerdict, nss_database, port_views

MAIL_PORTS = (25, 465, 587, 143, 993, 110, 995)
HEALTHY = "healthy"
# The check IDs of mailcert's catalogue that describe each lab fault: what `audit` reports for it on the matrix's
# lab (tests/lab/test_client_matrix.py checks it), leaving out what audit also reports as a consequence on the
# same host (tls.inconsistent, tls.handshake-failed, dns.*-mismatch, renewal.overdue, ...).
FAULT_CHECKS: dict[str, tuple[str, ...]] = {
    HEALTHY: (),
    "leaf-only": ("cert.chain-incomplete", "config.cert-not-fullchain"),
    "expired": ("cert.expired",),
    "name-mismatch": ("cert.name-mismatch",),
    "key-mismatch": ("key.mismatch",),
    "self-signed": ("cert.self-signed",),
    "stale": ("tls.stale",),
    "dovecot-missing-lt": ("config.dovecot-missing-lt",),
    "wrong-mode-587": ("config.mode-mismatch",),
    "wrong-mode-465": ("config.mode-mismatch",),
    "no-deploy-hook": ("renewal.no-reload-hook",),
    "dovecot-file-lt": ("config.syntax",),
    "cpanel-hostname-only": ("cpanel.service-cert-names", "cert.name-mismatch"),
    "cpanel-stale-sni": ("cpanel.sni-stale", "tls.stale"),
    "cpanel-missing-cabundle": (
        "cpanel.cabundle-missing",
        "cert.chain-incomplete",
        "config.cert-not-fullchain",
    ),
    "cpanel-expired-domain": ("cert.expired",),
}
RECORDED_FAULTS = tuple(FAULTS)
# Faults planted where they have not bitten yet: what the stacks see now is recorded, and the checks' verdicts
# (symptoms.yml, "when the fault bites") are for later.
NOT_YET_BITING = {
    "dovecot-file-lt": "Dovecot runs on the config it loaded before the edit (2.4 refuses the edited one);"
    " after a restart IMAP and POP3 are down",
}
LOCK = Path("/run/mailcert-lab-tests.lock")  # the machine's one lab, shared with the test runs
WORKERS = 16


@dataclass(frozen=True)
class Row:
    fault: str
    port: int
    stack: str
    ok: bool
    message: str


def fault_hosts() -> list[str]:
    """The matrix's hosts in order: healthy first, then one per recorded fault."""
    return [HEALTHY, *RECORDED_FAULTS]


def faults_spec(hosts: Sequence[LabHost]) -> str:
    return ",".join(
        f"{host.name}:{fault}" for host, fault in zip(hosts, fault_hosts(), strict=True) if fault != HEALTHY
    )


def record_on(lab_dir: Path, hosts: Sequence[LabHost], cafile: str) -> list[Row]:
    """Ask every stack about every (fault host, port) of a lab brought up by `bring_up`."""
    jobs = [
        (host, fault, port) for host, fault in zip(hosts, fault_hosts(), strict=True) for port in MAIL_PORTS
    ]
    with tempfile.TemporaryDirectory(prefix="mailcert-nss-") as folder:
        db = nss_database(cafile, Path(folder))

        def ask(job: tuple[LabHost, str, int]) -> list[StackVerdict]:
            host, fault, port = job
            name = client_name(fault, host, port)
            return port_views(host.address, port, name, cafile, db, names=[*host.hostnames, host.domain])

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            answers = list(pool.map(ask, jobs))
    rows = [
        Row(fault, port, view.stack, view.ok, view.message)
        for (_, fault, port), views in zip(jobs, answers, strict=True)
        for view in views
    ]
    return sorted(rows, key=_order)


def _order(row: Row) -> tuple[int, int, int]:
    return fault_hosts().index(row.fault), MAIL_PORTS.index(row.port), STACKS.index(row.stack)


def bring_up(lab_dir: Path, say: Callable[[str], None] = print) -> tuple[LabHost, ...]:
    """A lab with one host per recorded fault (and a healthy one), each of the kind its fault needs, all faults
    planted."""
    kinds = [host_kind(fault) for fault in fault_hosts()]
    probe = lifecycle.host_list(lab_dir, len(kinds), kinds)
    result = lifecycle.up(lab_dir, len(kinds), faults_spec(probe) or "none", kinds, say=say)
    return result.hosts


def claim_lab_lock(wait_seconds: int = 3600, say: Callable[[str], None] = print) -> int:
    """Wait for test runs (or another recording) to finish with the machine's one lab; hold it until exit."""
    fd = os.open(LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if not told:
                say(f"mailcert clients: waiting for the lab ({LOCK} is held by another run)")
                told = True
            if time.monotonic() > deadline:
                raise LabError(f"the lab stayed busy for {wait_seconds} s ({LOCK})") from None
            time.sleep(2)


# -- the recorded table -------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    """The client stacks' versions, for the table's header."""
    import ssl
    import subprocess

    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            return "missing"
        return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "?"

    nss = "?"
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "libnss3"], capture_output=True, text=True, check=False
        )
        nss = f"NSS {done.stdout.strip()} (Debian libnss3)"
    except OSError:
        pass
    return {
        "openssl": first_line(["openssl", "version"]),
        "gnutls": first_line(["gnutls-cli", "--version"]),
        "nss": nss,
        "python": f"Python {sys.version.split()[0]} ssl, {ssl.OPENSSL_VERSION}",
    }


def to_json(rows: Sequence[Row], stack_versions: dict[str, str]) -> str:
    document = {
        "versions": stack_versions,
        "tools": STACK_TOOLS,
        "fault_checks": {fault: list(FAULT_CHECKS[fault]) for fault in fault_hosts()},
        "hosts": {
            fault: {"kind": host_kind(fault), "names": {str(p): shown_name(fault, p) for p in MAIL_PORTS}}
            for fault in fault_hosts()
        },
        "rows": [asdict(row) for row in rows],
    }
    return json.dumps(document, indent=1) + "\n"


def load_rows(text: str) -> list[Row]:
    return [Row(**row) for row in json.loads(text)["rows"]]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _names_cell(fault: str) -> str:
    """The names a client of the fault's host uses, each with its ports."""
    by_name: dict[str, list[str]] = {}
    for port in MAIL_PORTS:
        by_name.setdefault(shown_name(fault, port), []).append(str(port))
    if len(by_name) == 1:
        return f"`{next(iter(by_name))}`"
    return ", ".join(f"`{name}` ({','.join(ports)})" for name, ports in by_name.items())


def to_markdown(rows: Sequence[Row], stack_versions: dict[str, str]) -> str:
    """docs/clients.md: how it was recorded, the hosts and names, a summary per fault and stack, every message."""
    lines = [
        "# What real TLS stacks say for each fault (recorded in the lab)",
        "",
        "Recorded by `make clients` (`python -m mailcert.lab.client_matrix`, root, the machine's one lab): one lab",
        "host per fault of the lab catalogue (`mailcert/lab/faults.py`, with cPanel's from",
        "`mailcert/lab/cpanel_sim/faults.py`) plus a healthy one, every mail port, each stack trusting only the",
        "lab's roots and checking the name a client of that host uses on that port. Do not edit by hand:",
        "`tests/lab/test_client_matrix.py` records it again and fails when a verdict differs;",
        "`tests/unit/test_client_truth.py` checks `mailcert/data/symptoms.yml` and `explain` against it.",
        "",
        "Stacks:",
        "",
    ]
    for stack, tool in STACK_TOOLS.items():
        version = stack_versions.get(stack.split("-")[0], "")
        lines.append(f"- `{stack}`: `{tool}` — {version}")
    lines += [
        "",
        "## Hosts and the names their clients use",
        "",
        "Each fault is planted on the kind of lab host it exists on: `postfix-dovecot` (Debian 12), `debian13`",
        "(Postfix 3.10, Dovecot 2.4: `dovecot-file-lt`), `cpanel` (real Exim and Dovecot at cPanel's paths, run",
        "by the cPanel SIMULATOR: the `cpanel-*` faults). A cPanel server's clients use `mail.<account domain>`",
        "on every port, not `smtp.`/`imap.`/`pop.`; each cPanel fault is asked under the name of the account it",
        "touches (`beta` has no Domain TLS certificate and gets the service certificate, `alpha` has its own).",
        "",
        "| fault | host kind | name a client uses (ports) |",
        "|---|---|---|",
    ]
    lines += [f"| {fault} | {host_kind(fault)} | {_names_cell(fault)} |" for fault in fault_hosts()]
    lines += [""]
    lines += [f"`{fault}` has not bitten yet in the lab: {why}." for fault, why in NOT_YET_BITING.items()]
    lines += [
        "",
        "## Summary: which stacks reject each fault (ports where they do)",
        "",
        "`nss-chain` is recorded on the STARTTLS ports only (25, 587, 143, 110) and checks no name.",
        "",
        "| fault | checks | " + " | ".join(STACKS) + " |",
        "|---|---|" + "---|" * len(STACKS),
    ]
    for fault in fault_hosts():
        cells = []
        for stack in STACKS:
            mine = [r for r in rows if r.fault == fault and r.stack == stack]
            failed = [str(r.port) for r in mine if not r.ok]
            cells.append("–" if not mine else "passes" if not failed else "rejects " + ",".join(failed))
        checks = ", ".join(FAULT_CHECKS[fault]) or "–"
        lines.append(f"| {fault} | {checks} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Every message",
        "",
        "| fault | port | stack | verdict | message |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        verdict = "ok" if row.ok else "REJECTS"
        lines.append(f"| {row.fault} | {row.port} | {row.stack} | {verdict} | {_cell(row.message)} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mailcert.lab.client_matrix", description=__doc__)
    parser.add_argument(
        "--docs", default="docs", help="folder for clients.md and clients.json (default docs)"
    )
    parser.add_argument("--dir", help="lab folder (default: a temporary one)")
    options = parser.parse_args(argv)
    claim_lab_lock()
    with tempfile.TemporaryDirectory(prefix="mailcert-clients-") as scratch:
        lab_dir = Path(options.dir or Path(scratch) / "lab").resolve()
        started = time.monotonic()
        hosts = bring_up(lab_dir, say=lambda line: print(line, file=sys.stderr))
        try:
            rows = record_on(lab_dir, hosts, str(lab_dir / "ca-bundle.pem"))
        finally:
            lifecycle.down(lab_dir, say=lambda _: None)
    stack_versions = versions()
    docs = Path(options.docs)
    (docs / "clients.json").write_text(to_json(rows, stack_versions))
    (docs / "clients.md").write_text(to_markdown(rows, stack_versions))
    print(f"recorded {len(rows)} verdicts in {time.monotonic() - started:.0f} s into {docs}/clients.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
