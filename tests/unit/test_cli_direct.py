"""lint, explain and probe, every task's --help and --version run without the SSH libraries (issue 23), with
the help and answers of the Invoke program; command lines the direct path does not take go to that program
unchanged."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mailcert import fastpath
from mailcert.cli import build_program
from mailcert.fastpath import run_version
from mailcert.tasks import namespace
from mailcert.tasks.declare import Declared, declared
from mailcert.tasks.direct import (
    HELP_TASKS,
    TASK_WORDS,
    parse_flags,
    run_direct,
    task_flags,
)
from mailcert.tasks.lint import lint
from mailcert.tasks.probe import probe

SSH_LIBRARIES = ("fabric", "paramiko", "invoke")

# Runs the console script's main() in a fresh interpreter, then prints which SSH libraries it imported.
_IMPORTED = """
import json, sys
from mailcert.cli import main
try:
    main(["mailcert", *sys.argv[1:]])
except SystemExit as exit:
    code = exit.code
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"fabric", "paramiko", "invoke"})
print(json.dumps({"code": code, "ssh_libraries": loaded}), file=sys.stderr)
"""


def imported_ssh_libraries(*args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED, *args], capture_output=True, text=True, check=False, timeout=120
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    return result["code"], result["ssh_libraries"]


@pytest.mark.parametrize(
    "argv",
    [
        ["lint", "--help"],
        ["explain", "--help"],
        ["probe", "--help"],
        ["lint", "-h"],
        ["--help", "probe"],
        ["explain", "0x30"],
        ["explain", "--format", "json", "unable", "to", "get", "local", "issuer", "certificate"],
        ["probe"],  # a usage error: still no SSH
    ],
    ids=" ".join,
)
def test_commands_that_never_connect_over_ssh_do_not_import_the_ssh_libraries(argv: list[str]) -> None:
    code, loaded = imported_ssh_libraries(*argv)
    assert loaded == [], f"`mailcert {' '.join(argv)}` imported {loaded}"
    assert code in (0, 1, 2, 3)


def test_lint_of_a_tree_does_not_import_the_ssh_libraries(tmp_path: Path) -> None:
    code, loaded = imported_ssh_libraries("lint", str(tmp_path), "--format", "json")
    assert loaded == []
    assert code == 3  # no Postfix, Dovecot or Exim configuration found


def test_audit_still_runs_through_the_invoke_program() -> None:
    code, loaded = imported_ssh_libraries("audit", "-I", "/nonexistent/inventory")
    assert loaded == sorted(SSH_LIBRARIES)
    assert code == 3


def _spoken(task: str) -> list[str]:
    """The task as a user types it: `lab up` for the Invoke program's `lab.up`."""
    return task.split(".")


# Every way of asking for a task's help that the direct path answers (the Invoke program answers them alike).
HELP_FORMS = [
    *([*_spoken(task), "--help"] for task in sorted(HELP_TASKS)),
    ["audit", "-h"],
    ["-h", "fix"],
    ["--help", "verify"],
    ["--help", "lab", "up"],
    ["-h", "report", "merge"],
    ["lab.exec", "--help"],
    ["report.merge", "-h"],
]


@pytest.mark.parametrize("argv", HELP_FORMS, ids=" ".join)
def test_help_is_what_the_invoke_program_prints(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_direct(["mailcert", *argv]) == 0
    direct = capsys.readouterr()
    with pytest.raises(SystemExit) as invoked:
        build_program().run(["mailcert", *argv])
    assert invoked.value.code == 0
    assert (direct.out, direct.err) == capsys.readouterr()
    assert direct.out.startswith("Usage: mailcert [--core-opts] ")


@pytest.mark.parametrize("argv", [*HELP_FORMS, ["--version"], ["-V"]], ids=" ".join)
def test_help_and_version_do_not_import_the_ssh_libraries(argv: list[str]) -> None:
    code, loaded = imported_ssh_libraries(*argv)
    assert loaded == [], f"`mailcert {' '.join(argv)}` imported {loaded}"
    assert code == 0


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_is_what_the_invoke_program_prints(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_version(["mailcert", flag]) == 0
    fast = capsys.readouterr()
    with pytest.raises(SystemExit) as invoked:
        build_program().run(["mailcert", flag])
    assert invoked.value.code == 0
    assert (fast.out, fast.err) == capsys.readouterr()


@pytest.mark.parametrize("project", ["paramiko", "invoke", "cryptography", "PyYAML", "no-such-project"])
def test_versions_are_read_as_importlib_metadata_reads_them(project: str) -> None:
    try:
        expected: str | None = importlib.metadata.version(project)
    except importlib.metadata.PackageNotFoundError:
        expected = None
    assert fastpath.distribution_version(project) == expected


def test_invoke_version_is_invokes_own() -> None:
    import invoke

    assert fastpath.invoke_version() == invoke.__version__


def test_version_goes_to_the_invoke_program_when_a_version_is_not_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fastpath, "distribution_version", lambda name: None)
    assert run_version(["mailcert", "--version"]) is None


@pytest.mark.parametrize(
    "argv", [["mailcert", "--version", "audit"], ["mailcert", "-V", "-V"], ["mailcert", "audit", "--version"]]
)
def test_other_version_requests_go_to_the_invoke_program(argv: list[str]) -> None:
    assert run_version(argv) is None


def test_help_tasks_are_the_tasks_of_the_program() -> None:
    assert set(HELP_TASKS) == set(namespace().task_names)


def test_task_words_name_every_task_of_the_program() -> None:
    assert {name.split(".")[0] for name in namespace().task_names} == TASK_WORDS


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["ROOT"], {"root": "ROOT"}),
        (["--root", "ROOT", "--format=json"], {"root": "ROOT", "format": "json"}),
        (
            ["ROOT", "--hostname", "a.example", "--hostname=b.example", "--warn-days", "30"],
            {"root": "ROOT", "hostname": ["a.example", "b.example"], "warn_days": 30},
        ),
        (["--require-files", "ROOT"], {"root": "ROOT", "require_files": True}),
    ],
)
def test_lint_flags_parse_as_invoke_parses_them(words: list[str], expected: dict[str, object]) -> None:
    values = parse_flags("lint", words, task_flags(lint, _declared(lint)), ("root",))
    assert values is not None
    changed = {k: v for k, v in values.items() if v not in (None, [], False, "text", 21, 7)}
    assert changed == expected


def test_probe_takes_bare_words_as_targets() -> None:
    values = parse_flags(
        "probe", ["a.example", "--timeout", "3", "b.example:587"], task_flags(probe, _declared(probe))
    )
    assert values is not None
    assert values["target"] == ["a.example", "b.example:587"]
    assert values["timeout"] == "3"


@pytest.mark.parametrize(
    "words",
    [
        [],  # ROOT missing: Invoke says so
        ["ROOT", "audit"],  # another task chained
        ["ROOT", "OTHER"],
        ["ROOT", "--no-such-flag"],
        ["ROOT", "--format", "json", "--format", "text"],
        ["ROOT", "--warn-days", "soon"],
        ["ROOT", "--format"],
        ["ROOT", "--require-files=yes"],
    ],
    ids=" ".join,
)
def test_what_the_direct_path_does_not_take_goes_to_invoke(words: list[str]) -> None:
    assert parse_flags("lint", words, task_flags(lint, _declared(lint)), ("root",)) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["mailcert", "--version"],  # mailcert.fastpath's
        ["mailcert", "--help"],
        ["mailcert", "-h"],
        ["mailcert", "--list"],
        ["mailcert", "lab", "--help"],  # the lab's commands with the others: Invoke's --list
        ["mailcert", "report", "-h"],
        ["mailcert", "audit", "-I", "inv", "--help"],
        ["mailcert", "audit", "fix", "--help"],
        ["mailcert", "--help", "audit", "fix"],
        ["mailcert", "--help=audit"],
        ["mailcert", "no-such-task", "--help"],
        ["mailcert", "lab", "nope", "--help"],
        ["mailcert", "audit", "up", "--help"],
        ["mailcert", "-I", "inv", "lint", "ROOT"],
        ["mailcert", "lint", "--", "x"],
        ["mailcert"],
    ],
    ids=" ".join,
)
def test_other_command_lines_are_left_to_the_invoke_program(argv: list[str]) -> None:
    assert run_direct(argv) is None


@pytest.mark.parametrize(
    "argv", [["explain", "0x30"], ["lint", "--help"], ["audit", "--help"], ["--version"]], ids=" ".join
)
def test_a_config_file_sends_the_command_to_the_invoke_program(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILCERT_CONFIG", "/nonexistent/mailcert.yaml")
    assert run_version(["mailcert", *argv]) is None
    assert run_direct(["mailcert", *argv]) is None


@pytest.mark.parametrize(
    "args",
    [["0x30"], ["--format", "json", "0x80090322"], ["no", "such", "message"], ["--format", "xml", "0x30"]],
    ids=" ".join,
)
def test_explain_answers_as_through_the_invoke_program(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    direct_code = run_direct(["mailcert", "explain", *args])
    direct = capsys.readouterr()
    with pytest.raises(SystemExit) as invoked:
        build_program().run(["mailcert", "explain", *args])
    assert (direct_code, direct.out, direct.err) == (invoked.value.code, *capsys.readouterr())


def _declared(body: Callable[..., None]) -> Declared:
    found = declared(body)
    assert found is not None
    return found
