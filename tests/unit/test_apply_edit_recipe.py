"""An edit reaches the host as a line recipe, built there from the REAL file (issue 18, point 3).

The planners edit the text gather.sh sent, whose secret lines read "(hidden-by-mailcert)"; the whole edited
copy used to be written back, so a certificate fix replaced the relay password map with the placeholder.
These run apply.sh's own redaction and merge (the shipped functions, under dash and bash) on files that
hold real secrets."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from mailcert.fix.apply.host import apply_host
from mailcert.fix.apply.payload import switch_payload
from mailcert.fix.edit.recipe import HiddenLineError, digest, lines_of, recipe
from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan
from mailcert.fix.worker import apply_script
from mailcert.gather import gather_script
from mailcert.inventory.model import InventoryHost
from mailcert.model import HostReport
from mailcert.ssh import StrictConnection
from tests.fix_trees import inventory_host

SHELLS = ["dash", "bash"]


def functions_of_apply_sh() -> str:
    """apply.sh up to its dispatch: every function, nothing run."""
    script = apply_script()
    return script[: script.rindex("\ncase $ACTION in\n")] + "\n"


def run_sh(shell: str, body: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`body` after apply.sh's functions; `args` are $5 on (after ACTION STATE RUN HOST)."""
    if shutil.which(shell) is None:
        pytest.fail(f"{shell} is a system dependency of this test")
    return subprocess.run(
        [
            shell,
            "-c",
            functions_of_apply_sh() + body,
            "mailcert-apply",
            "test",
            "/nonexistent",
            "",
            "",
            *args,
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )


def redacted_on_host(shell: str, path: Path) -> bytes:
    done = run_sh(shell, 'redacted "$5"', str(path))
    assert done.returncode == 0, done.stderr
    return done.stdout


def merge_on_host(shell: str, folder: Path, real: Path, before: str, after: str) -> tuple[int, bytes, str]:
    """apply.sh's merge_edit on a copy of `real` (as the backup is): (exit, new bytes, refusal)."""
    files = folder / "files"
    files.mkdir(exist_ok=True)
    shutil.copyfile(real, files / "1")
    steps = base64.b64encode(recipe(str(real), before, after).encode()).decode()
    body = 'RUNDIR=$5; merge_edit 1 "$6" "$7" "$8"; rc=$?; printf "%s" "$MERGE_WHY" >&2; exit $rc'
    done = run_sh(shell, body, str(folder), str(real), steps, digest(before))
    new = files / "new.1"
    return (
        done.returncode,
        new.read_bytes() if new.exists() and done.returncode == 0 else b"",
        done.stderr.decode(),
    )


SECRET_MAIN_CF = (
    b"# relay\r\n"
    b"smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd\r\n"
    b"smtpd_tls_cert_file = /etc/ssl/old.pem\r\n"
    b"db_password = s3cr\xc3\xa9t % $HOME `x`\r\n"
    b"  hide mysql_servers = db/u/pw\r\n"
    b"tail"
)  # CRLF, no final newline, a % and shell characters in the secret


def test_the_recipe_keeps_unchanged_lines_by_number_and_carries_only_new_lines() -> None:
    before = "a\nx_password = (hidden-by-mailcert)\nb\n"
    after = "a\nx_password = (hidden-by-mailcert)\nB\nc\n"
    assert recipe("/etc/p/main.cf", before, after) == "f 1\nk 1\nk 2\nn B\nn c\n"
    assert recipe("/f", "a\nb", "a\nb\nc") == "f 0\nk 1\nk 2\nn c\n"
    assert lines_of("") == ([], True)
    assert lines_of("x\r\ny") == (["x\r", "y"], False)
    assert digest("a\n") == hashlib.sha256(b"a\n").hexdigest()


@pytest.mark.parametrize(
    ("after", "line"),
    [
        ("a\nx_password = new\nb\n", "line 2"),  # changed
        ("a\nb\n", "line 2"),  # deleted
        ("a\nx_password = (hidden-by-mailcert)\nb\ny = (hidden-by-mailcert)\n", "line 4 of the new file"),
    ],
)
def test_an_edit_touching_a_hidden_line_is_refused_naming_file_and_line(after: str, line: str) -> None:
    with pytest.raises(HiddenLineError) as refused:
        recipe("/etc/postfix/main.cf", "a\nx_password = (hidden-by-mailcert)\nb\n", after)
    assert "/etc/postfix/main.cf" in refused.value.line()
    assert line in refused.value.line()
    assert "\n" not in refused.value.line()


def test_the_payload_carries_no_redacted_text_for_an_edit() -> None:
    before = "smtp_sasl_password_maps = (hidden-by-mailcert)\nsmtpd_tls_cert_file = /old.pem\n"
    after = "smtp_sasl_password_maps = (hidden-by-mailcert)\nsmtpd_tls_cert_file = /new.pem\n"
    plan = HostPlan(
        "h", (Change(ChangeKind.EDIT, "e", file=FileChange("/etc/postfix/main.cf", before, after)),)
    )
    payload = switch_payload(plan)
    edits = [ln for ln in payload.splitlines() if ln.startswith("edit ")]
    assert len(edits) == 1
    _, path, steps, sha = edits[0].split()
    assert base64.b64decode(path) == b"/etc/postfix/main.cf"
    assert base64.b64decode(steps) == b"f 1\nk 1\nn smtpd_tls_cert_file = /new.pem\n"
    assert sha == hashlib.sha256(before.encode()).hexdigest()
    # no line but the program itself carries the placeholder, decoded or not
    for line in payload.splitlines():
        if not line.startswith("script "):
            words = [w for w in line.split()[1:] if w != "-"]
            assert "hidden-by-mailcert" not in line + "".join(
                base64.b64decode(w + "==").decode("latin-1") for w in words
            )


def test_apply_sh_carries_gathers_redaction_rule_verbatim() -> None:
    gather = gather_script()
    block = gather[gather.index("# >>> mailcert-redact") : gather.index("# <<< mailcert-redact")]
    assert block in apply_script()
    assert "# @mailcert-redact@" not in apply_script()


@pytest.mark.parametrize("shell", SHELLS)
def test_the_host_builds_the_edit_from_the_real_file_keeping_secrets_crlf_and_no_final_newline(
    shell: str, tmp_path: Path
) -> None:
    real = tmp_path / "main.cf"
    real.write_bytes(SECRET_MAIN_CF)
    before = redacted_on_host(shell, real).decode()
    # what gather sends: the secret lines hidden (their CR too), every other line as it is; the indented line
    # continues db_password's value in a Postfix file, so it is hidden whole
    assert before == (
        "# relay\r\n"
        "smtp_sasl_password_maps = (hidden-by-mailcert)\n"
        "smtpd_tls_cert_file = /etc/ssl/old.pem\r\n"
        "db_password = (hidden-by-mailcert)\n"
        "  (hidden-by-mailcert)\n"
        "tail"
    )
    after = before.replace("/etc/ssl/old.pem", "/etc/ssl/fullchain.pem").replace("tail", "tail\r\nnew = 1")
    rc, new, why = merge_on_host(shell, tmp_path, real, before, after)
    assert (rc, why) == (0, "")
    assert new == (
        b"# relay\r\n"
        b"smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd\r\n"
        b"smtpd_tls_cert_file = /etc/ssl/fullchain.pem\r\n"
        b"db_password = s3cr\xc3\xa9t % $HOME `x`\r\n"
        b"  hide mysql_servers = db/u/pw\r\n"
        b"tail\r\n"
        b"new = 1"
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_a_file_changed_since_it_was_read_is_refused(shell: str, tmp_path: Path) -> None:
    real = tmp_path / "main.cf"
    real.write_bytes(SECRET_MAIN_CF)
    before = redacted_on_host(shell, real).decode()
    real.write_bytes(SECRET_MAIN_CF.replace(b"# relay", b"# relay (edited by hand)"))
    rc, new, why = merge_on_host(shell, tmp_path, real, before, before.replace("old.pem", "new.pem"))
    assert rc != 0
    assert why.startswith("it changed since mailcert read it")
    assert new == b""


@pytest.mark.parametrize("shell", SHELLS)
def test_a_recipe_that_drops_a_hidden_line_is_refused_on_the_host_too(shell: str, tmp_path: Path) -> None:
    """The control side refuses such an edit; the host does not rely on it (a blank PEM line is hidden too)."""
    real = tmp_path / "main.cf"
    real.write_bytes(b"a = 1\nrelay_password = pw\n")
    before = "a = 1\nrelay_password = (hidden-by-mailcert)\n"
    files = tmp_path / "files"
    files.mkdir()
    shutil.copyfile(real, files / "1")
    steps = base64.b64encode(b"f 1\nk 1\n").decode()
    done = run_sh(
        shell,
        'RUNDIR=$5; merge_edit 1 x "$6" "$7"; rc=$?; printf "%s" "$MERGE_WHY" >&2; exit $rc',
        str(tmp_path),
        steps,
        digest(before),
    )
    assert done.returncode != 0
    assert done.stderr.decode() == "the edit drops line 2, which holds a hidden value"


def test_a_plan_editing_a_hidden_line_is_not_applied_and_no_host_is_contacted() -> None:
    def connect(host: InventoryHost) -> StrictConnection:
        raise AssertionError("a refused plan must not connect to the host")

    before = "relayhost = [smtp.example.net]\nsmtp_sasl_password_maps = (hidden-by-mailcert)\n"
    after = "relayhost = [smtp.example.net]\nsmtp_sasl_password_maps = hash:/etc/postfix/other\n"
    plan = HostPlan(
        "mx1",
        (
            Change(ChangeKind.EDIT, "e", file=FileChange("/etc/postfix/main.cf", before, after)),
            Change(ChangeKind.RELOAD, "r", service="postfix"),
        ),
    )
    applied = apply_host(
        inventory_host(), plan, run_id="20261204T000000Z-abcdef", before=HostReport("mx1"), recheck=None,
        connect=connect,
    )  # fmt: skip
    assert [c.outcome.value for c in applied.plan.changes] == ["skipped", "skipped"]
    assert applied.message == (
        "mx1: the edit of /etc/postfix/main.cf would change or delete line 2, whose value mailcert hid when it "
        "read the file — make that change by hand, or move the setting to a line of its own"
    )
    assert not applied.changed
