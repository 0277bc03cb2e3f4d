"""examples/shards: every mailcert command in the systemd units, the Kubernetes CronJobs and the CI matrix
parses with mailcert's own command line (flags, --shard, --format), and the systemd set, run against a
throwaway inventory whose hosts stop before any connection, merges back to the unsharded verify."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailcert.cli import build_program, main
from mailcert.inventory.shard import parse_shard
from mailcert.report import check_format
from mailcert.tasks import variadic_argv

EXAMPLES = Path(__file__).parents[2] / "examples" / "shards"
SHARD_MARKERS = ("%i", "$((JOB_COMPLETION_INDEX + 1))", "${{ matrix.shard }}")


def _command(line: str, shard: int = 2) -> list[str]:
    """The mailcert argv in one shell or ExecStart line, shard K filled in, shell tails cut off."""
    for marker in SHARD_MARKERS:
        line = line.replace(marker, str(shard))
    line = re.split(r"\s(?:\|\||&&|;)\s|\s\|\|\s*$", line)[0]
    words = shlex.split(line)
    start = next(i for i, w in enumerate(words) if w == "mailcert" or w.endswith("/mailcert"))
    return ["mailcert", *words[start + 1 :]]


def _commands_in_yaml(node: Any) -> list[list[str]]:
    """Container commands, and the mailcert lines of shell scripts (a CronJob's `args`, a CI step's `run`)."""
    found: list[list[str]] = []
    if isinstance(node, dict):
        command = node.get("command")
        if isinstance(command, list) and command and command[0] == "mailcert":
            found.append([str(w) for w in command])
        scripts = [node.get("run"), *(node.get("args") or [])]
        for script in (s for s in scripts if isinstance(s, str)):
            found += [_command(line) for line in script.splitlines() if line.strip().startswith("mailcert ")]
        for value in node.values():
            found += _commands_in_yaml(value)
    elif isinstance(node, list):
        for value in node:
            found += _commands_in_yaml(value)
    return found


def example_commands() -> dict[str, list[list[str]]]:
    commands: dict[str, list[list[str]]] = {}
    for path in sorted(EXAMPLES.iterdir()):
        if path.suffix == ".service":
            lines = [line for line in path.read_text().splitlines() if line.startswith("ExecStart=")]
            commands[path.name] = [_command(line.removeprefix("ExecStart=")) for line in lines]
        elif path.suffix == ".yml":
            commands[path.name] = [
                c for doc in yaml.safe_load_all(path.read_text()) for c in _commands_in_yaml(doc)
            ]
    return commands


def dry_parse(argv: list[str]) -> dict[str, dict[str, object]]:
    """What mailcert's parser makes of argv (task name → its arguments), without running anything."""
    program = build_program()
    program.create_config()
    program.parse_core(variadic_argv(argv))
    program.parse_collection()
    program.parse_tasks()
    return {ctx.name: {name: arg.value for name, arg in ctx.args.items()} for ctx in program.tasks}


def test_every_example_has_its_shard_and_merge_commands() -> None:
    commands = example_commands()
    assert set(commands) == {
        "mailcert-verify-shard@.service",
        "mailcert-merge.service",
        "kubernetes-cronjob.yml",
        "github-actions-matrix.yml",
    }
    for name, found in commands.items():
        assert found, name
    every = [c for found in commands.values() for c in found]
    assert sum("--shard" in c for c in every) == 3 and sum(c[1:3] == ["report", "merge"] for c in every) == 3


@pytest.mark.parametrize(
    "name,argv", [(name, argv) for name, found in example_commands().items() for argv in found]
)
def test_example_command_parses(name: str, argv: list[str]) -> None:
    [(task, args)] = dry_parse(argv).items()
    if task == "report.merge":
        reports = args["report"]
        assert isinstance(reports, list) and len(reports) == 4, name
        assert all(str(r).endswith(("-1.json", "-2.json", "-3.json", "-4.json")) for r in reports)
    else:
        assert task in ("audit", "verify") and parse_shard(str(args["shard"])).count == 4, name
        assert args["format"] == "json" and "2" in str(args["output"]), name  # each shard its own file
    check_format(str(args["format"]))
    if args.get("prometheus"):
        assert str(args["prometheus"]).endswith(".prom")


def _under(tmp_path: Path, argv: list[str]) -> list[str]:
    """The command with its absolute paths moved under tmp_path."""
    return [str(tmp_path) + w if w.startswith(("/srv/", "/var/")) else w for w in argv]


def test_the_systemd_example_runs_and_merges_to_the_unsharded_verify(tmp_path: Path) -> None:
    lines = ["all:", "  hosts:"]
    for n in range(9):  # no known_hosts file: every host stops before connecting, deterministically
        lines += [
            f"    mx{n}:",
            "      ansible_host: 127.0.0.1",
            f"      mailcert_known_hosts: {tmp_path}/none",
        ]
    (tmp_path / "inventory.yml").write_text("\n".join(lines) + "\n")
    (tmp_path / "srv/mailcert/shards").mkdir(parents=True)
    (tmp_path / "var/lib/prometheus/node-exporter").mkdir(parents=True)
    (tmp_path / "var/lib/mailcert").mkdir(parents=True)
    [exec_start] = [
        line.removeprefix("ExecStart=")
        for line in (EXAMPLES / "mailcert-verify-shard@.service").read_text().splitlines()
        if line.startswith("ExecStart=")
    ]
    [merge] = example_commands()["mailcert-merge.service"]
    at = ["--at", "2027-01-01T00:00:00Z"]
    for k in range(1, 5):
        argv = _under(tmp_path, _command(exec_start, k))
        argv[argv.index("-I") + 1] = str(tmp_path / "inventory.yml")
        with pytest.raises(SystemExit) as exited:
            main([*argv, *at])
        assert exited.value.code == 3
    with pytest.raises(SystemExit) as exited:
        main(_under(tmp_path, merge))
    assert exited.value.code == 3
    assert (tmp_path / "srv/mailcert/fleet.html").is_file()
    assert "mailcert_host_up" in (tmp_path / "var/lib/prometheus/node-exporter/mailcert.prom").read_text()
    with pytest.raises(SystemExit):
        main(
            [
                *_under(tmp_path, merge[:7]),
                "--format",
                "json",
                "--output",
                str(tmp_path / "fleet.json"),
            ]
        )
    whole = tmp_path / "whole.json"
    with pytest.raises(SystemExit):
        main(
            [
                "mailcert",
                "verify",
                "-I",
                str(tmp_path / "inventory.yml"),
                *at,
                "--format",
                "json",
                "--output",
                str(whole),
            ]
        )
    merged = json.loads((tmp_path / "fleet.json").read_text())
    expected = json.loads(whole.read_text())
    assert merged["evaluated_at"] == expected["evaluated_at"] == "2027-01-01T00:00:00Z"
    assert merged["hosts"] == expected["hosts"] and merged["status"] == expected["status"] == "unknown"
