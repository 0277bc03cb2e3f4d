"""A config the planner reaches through a symbolic link (config management: /etc/postfix/main.cf ->
/srv/mailconf/main.cf): the edit is planned against the file the link leads to, says so in the plan, and
the payload tells the host which link must still lead there (issue 18 follow-up 1)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from mailcert.fix.apply.payload import switch_payload, validations
from mailcert.fix.model import ChangeKind
from tests.fix_trees import apply_locally, plan
from tests.lint_trees import HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
MAIN_CF = "/etc/postfix/main.cf"
REAL = "/srv/mailconf/main.cf"


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    host = HostTree(tmp_path, PKI)
    scenarios.SCENARIOS["1 leaf-only cert.pem"][0](host)  # a main.cf edit: cert file -> fullchain
    text = host.path(MAIN_CF).read_text()
    host.write(REAL, text)
    host.path(MAIN_CF).unlink()
    os.symlink(REAL, host.path(MAIN_CF))  # absolute, as on the host
    return host


def test_an_edit_through_a_link_writes_the_file_the_link_leads_to(tree: HostTree) -> None:
    result = plan(tree, PKI)
    assert result.error is None
    edits = [c for c in result.changes if c.kind is ChangeKind.EDIT]
    assert len(edits) == 1
    assert edits[0].file is not None
    assert (edits[0].file.path, edits[0].file.link) == (REAL, MAIN_CF)
    assert f"{MAIN_CF} is a link to {REAL}; the edit writes there" in edits[0].description
    # the service is still known by the name the configuration uses: postfix's own checks run
    assert ("postfix check", "postfix check") in validations(result)
    payload = switch_payload(result).splitlines()
    link_line = (
        f"link {base64.b64encode(MAIN_CF.encode()).decode()} {base64.b64encode(REAL.encode()).decode()}"
    )
    assert link_line in payload
    assert payload.index(link_line) < next(i for i, line in enumerate(payload) if line.startswith("edit "))


def test_applied_through_the_link_the_link_stays_and_nothing_is_left_to_plan(tree: HostTree) -> None:
    apply_locally(tree, PKI, plan(tree, PKI))
    assert tree.path(MAIN_CF).is_symlink()
    assert os.readlink(tree.path(MAIN_CF)) == REAL
    assert "fullchain.pem" in tree.path(REAL).read_text()
    again = plan(tree, PKI)
    assert again.error is None
    assert again.changes == ()


def test_a_config_that_is_not_a_link_carries_no_link(tmp_path: Path) -> None:
    host = HostTree(tmp_path, PKI)
    scenarios.SCENARIOS["1 leaf-only cert.pem"][0](host)
    edit = next(c for c in plan(host, PKI).changes if c.kind is ChangeKind.EDIT)
    assert edit.file is not None
    assert (edit.file.path, edit.file.link) == (MAIN_CF, None)
    assert "is a link" not in edit.description
    assert not any(line.startswith("link ") for line in switch_payload(plan(host, PKI)).splitlines())
