"""`mailcert lab up|down|status|exec`: the local lab of real mail hosts (see mailcert.lab)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mailcert.errors import UsageError
from mailcert.lab.faults import DEMO_MIX, FAULTS
from mailcert.tasks.declare import task
from mailcert.tasks.state import run_state

# The stages are imported inside the functions that use them: `mailcert TASK --help` and the start of a
# command import only these declarations (issue 23).
if TYPE_CHECKING:
    from invoke.context import Context

SUBCOMMANDS = ("up", "down", "status", "exec")
DIR_HELP = "the lab's folder: inventory, SSH key, known_hosts, CA bundle, host files (default ./lab)"


def lab_argv(argv: list[str]) -> list[str]:
    """SPEC's `lab up` / `lab exec HOST -- CMD...` in Invoke's terms: `lab.up`, `lab.exec HOST --command JSON`.

    The command after `--` is passed as a JSON list so its words survive exactly (Invoke would join
    them into one string and Fabric would try to run them on a remote host).
    """
    out = list(argv)
    for index, word in enumerate(out):
        following = out[index + 1] if index + 1 < len(out) else None
        if word == "lab" and following in SUBCOMMANDS:
            out[index : index + 2] = [f"lab.{following}"]
            break
        if word == "lab" and following in (None, "-h", "--help"):
            out[index:] = ["--list"]  # `mailcert lab` alone: show the lab's commands with the others
            break
    if "lab.exec" in out and "--" in out:
        cut = out.index("--")
        if cut > out.index("lab.exec"):
            out = [*out[:cut], "--command", json.dumps(out[cut + 1 :])]
    return out


def _say(line: str) -> None:
    print(line, flush=True)


@task(
    help={
        "dir": DIR_HELP,
        "hosts": "how many mail hosts (default 3)",
        "faults": "none | demo | FAULT,... | HOST:FAULT,...  faults: " + ", ".join(FAULTS),
        "kind": "host kinds, comma-separated, given to hosts in turn (default postfix-dovecot; also exim-dovecot,"
        " cpanel, debian13: Postfix 3.10 and Dovecot 2.4)",
        "central": "also BIND (RFC 2136) and a Pebble validating DNS-01 through it; the inventory in "
        "mailcert_acme_mode: central (group_vars/all.yml)",
        "delay": "MS: reach every host's SSH through a proxy adding MS milliseconds each way (a WAN link)",
        "tarpit": "HOST[:stall|trickle],...: these hosts' SSH proxy accepts and never answers (stall) "
        "or passes a byte a second (trickle)",
    },
)
def up(
    c: Context,
    dir: str = "lab",
    hosts: int = 3,
    faults: str = "none",
    kind: str = "",
    delay: str = "",
    tarpit: str = "",
    central: bool = False,
) -> None:
    """Start the lab: mail hosts in network namespaces, a lab CA, Pebble + mock DNS, the hosts' mail domains
    (dnsmasq: MX, SRV, MTA-STS, TLSA; nginx: autoconfig, autodiscover, MTA-STS); write the inventory."""
    from mailcert.lab import lifecycle
    from mailcert.lab.network import GATEWAY

    kinds = [k.strip() for k in kind.split(",") if k.strip()]
    delay_ms = _milliseconds(delay) if delay else None
    result = lifecycle.up(
        Path(dir), hosts, faults, kinds, say=_say, delay_ms=delay_ms, tarpit=tarpit, central=central
    )
    if result.already_up:
        _say(
            f"mailcert lab: already up under {result.lab_dir} (`mailcert lab down --dir {dir}` to remove it)"
        )
    for host in result.hosts:
        planted = ", ".join(result.faults.get(host.name, [])) or "healthy"
        _say(
            f"  {host.name:<5} {host.address:<12} {host.kind:<16} {' '.join(host.hostnames[:1])}  [{planted}]"
        )
    if delay_ms is not None or tarpit:
        _say(
            f"mailcert lab: SSH to the hosts goes through the latency proxy on {GATEWAY} "
            f"(+{delay_ms or 0} ms each way{'; tarpits: ' + tarpit if tarpit else ''})"
        )
    _say(
        f"mailcert lab: inventory {result.lab_dir / 'inventory.yml'}; try `mailcert -I {dir}/inventory.yml audit`"
    )


@task(
    help={
        "dir": DIR_HELP,
        "force": "also remove a lab whose state is lost (found by its namespaces and address)",
    },
)
def down(c: Context, dir: str = "lab", force: bool = False) -> None:
    """Stop the lab and remove its namespaces, links, processes and generated files."""
    from mailcert.lab import lifecycle

    if lifecycle.down(Path(dir), say=_say):
        return
    if force:
        stopped = lifecycle.sweep(say=_say)
        _say(f"mailcert lab: swept leftovers ({stopped} processes stopped)")
    else:
        _say(
            f"mailcert lab: no lab under {Path(dir).resolve()}; nothing to do (`--force` sweeps a lab whose state is lost)"
        )


@task(help={"dir": DIR_HELP, "format": "text or json"})
def status(c: Context, dir: str = "lab", format: str = "text") -> None:
    """What runs in the lab: hosts with name, address, state, services and planted faults."""
    from mailcert.lab import lifecycle

    if format not in ("text", "json"):
        raise UsageError(f"--format {format}: lab status speaks text or json")
    report = lifecycle.status(Path(dir))
    if format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"lab {report['state']} under {report['dir']}")
        hosts = report["hosts"]
        assert isinstance(hosts, list)
        for host in hosts:
            services = " ".join(f"{k}:{v}" for k, v in host["services"].items())
            faults = ", ".join(host["faults"]) or "no faults planted"
            print(f"  {host['name']:<5} {host['address']:<12} {host['state']:<9} {services}  [{faults}]")
    run_state().forced_code = 0 if report["state"] == "up" else 3


@task(
    name="exec",
    positional=("host",),
    help={"host": "lab host name (mx1, ...)", "command": "set by `-- CMD...`", "dir": DIR_HELP},
)
def exec_(c: Context, host: str, command: str = "[]", dir: str = "lab") -> None:
    """Run a command as root inside a lab host: `mailcert lab exec mx1 -- postconf -n`."""
    from mailcert.lab import lifecycle

    try:
        words = json.loads(command) if command.startswith("[") else command.split()
    except ValueError:
        raise UsageError(
            "lab exec: give the command after `--`: mailcert lab exec mx1 -- postconf -n"
        ) from None
    run_state().forced_code = lifecycle.exec_in_host(Path(dir), host, _as_words(words))


def _milliseconds(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= 60_000:
        raise UsageError(f"--delay {value!r}: give milliseconds, 0 to 60000", todo="write e.g. --delay 50")
    return number


def _as_words(words: Sequence[object]) -> list[str]:
    return [str(w) for w in words]


__all__ = ["DEMO_MIX", "down", "exec_", "lab_argv", "status", "up"]
