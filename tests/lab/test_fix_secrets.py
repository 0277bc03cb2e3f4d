"""Secrets survive `fix` byte for byte (issue 18, point 3).

gather.sh hides secret-looking lines before any text leaves the host; `fix` used to write the edited
redacted copy back whole, so after a certificate fix `postconf smtp_sasl_password_maps` printed the
placeholder and relay auth was silently broken. Here every file `fix` edits on a Postfix + Dovecot host
(main.cf, master.cf, Dovecot's 10-ssl.conf) holds a secret line while three planted faults make `fix`
edit each of them; and an edit whose file changed by hand after it was read is refused, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mailcert.fix.apply.host import apply_host, new_run_id
from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan, Outcome
from mailcert.lab.kinds.dovecot import SSL_CONF
from mailcert.lab.kinds.postfix import MAIN_CF, MASTER_CF
from tests.lab.fixture import Lab
from tests.lab.test_fix_apply import HOST, fix_inventory, inventory_host, recheck

MAILCERT = str(Path(sys.executable).parent / "mailcert")

# One secret line per file fix edits, each of a form the gather hides: a relay password map (a path, but
# its name says password), a pipe's password argument on a continuation line, Dovecot's key password.
SECRETS = {
    MAIN_CF: "smtp_sasl_password_maps = texthash:/etc/postfix/sasl_passwd\n",
    MASTER_CF: (
        "relaypipe unix  -       n       n       -       -       pipe\n"
        "  flags=R user=nobody argv=/bin/true\n"
        "  relay_password=Hunter2-$x`y`%s\n"
    ),
    SSL_CONF: "ssl_key_password = 0p3n-S3same %d\n",
}
# faults whose fix edits main.cf, master.cf and 10-ssl.conf in turn
FAULTS = ("leaf-only", "wrong-mode-587", "dovecot-missing-lt")


def secret_lines(path: Path) -> list[bytes]:
    wanted = {line.encode() for text in SECRETS.values() for line in text.splitlines(keepends=True)}
    return [line for line in path.read_bytes().splitlines(keepends=True) if line in wanted]


def test_fix_keeps_every_secret_line_byte_identical_and_postconf_still_reads_the_map(
    lab: Lab, tmp_path: Path
) -> None:
    host = lab.host(HOST)
    for path, text in SECRETS.items():
        with host.path(path).open("a") as conf:
            conf.write(text)
    for fault in FAULTS:
        lab.plant(HOST, fault)
    expected = {path: secret_lines(host.path(path)) for path in SECRETS}
    assert all(len(lines) == len(SECRETS[p].splitlines()) for p, lines in expected.items())
    before = {path: host.path(path).read_bytes() for path in SECRETS}
    inventory = str(fix_inventory(lab, tmp_path))

    done = subprocess.run(
        [MAILCERT, "-I", inventory, "fix", "--limit", HOST, "-y", "--format", "json"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
        check=False,
    )

    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    plan = json.loads(done.stdout)["plan"]
    edited = {e["path"] for e in plan if e["kind"] == "edit"}
    assert {e["outcome"] for e in plan if e["kind"] not in ("unfixable",)} == {"applied"}, plan
    for path in SECRETS:
        assert host.path(path).read_bytes() != before[path], f"fix did not edit {path}: {edited}"
        assert secret_lines(host.path(path)) == expected[path], path
        assert b"hidden-by-mailcert" not in host.path(path).read_bytes()
    said = lab.exec(HOST, "postconf", "-h", "smtp_sasl_password_maps")
    assert said.stdout.strip() == "texthash:/etc/postfix/sasl_passwd", said.stdout + said.stderr
    fixed = recheck(inventory_host(lab, tmp_path / "again"))
    assert not {"config.cert-not-fullchain", "config.dovecot-missing-lt"} & {f.check for f in fixed.findings}


def test_an_edit_of_a_file_changed_by_hand_after_it_was_read_is_refused_and_nothing_is_written(
    lab: Lab, tmp_path: Path
) -> None:
    host = lab.host(HOST)
    main_cf = host.path(MAIN_CF)
    lab.plant(HOST, "leaf-only")
    with main_cf.open("a") as conf:
        conf.write(SECRETS[MAIN_CF])
    # the text as the gather sends it: the secret line hidden
    read = main_cf.read_text().replace(SECRETS[MAIN_CF], "smtp_sasl_password_maps = (hidden-by-mailcert)\n")
    fixed = read.replace("/cert.pem", "/fullchain.pem")
    assert fixed != read
    inventory = inventory_host(lab, tmp_path)
    before = recheck(inventory)
    with main_cf.open("a") as conf:  # the admin edits the file between the plan and the apply
        conf.write("# changed by hand\n")
    by_hand = main_cf.read_bytes()
    change = Change(ChangeKind.EDIT, "fullchain", file=FileChange(MAIN_CF, read, fixed), service="postfix")
    reload = Change(ChangeKind.RELOAD, "reload", service="postfix")

    result = apply_host(
        inventory, HostPlan(HOST, (change, reload)), run_id=new_run_id(), before=before, recheck=recheck
    )

    assert [c.outcome for c in result.plan.changes] == [Outcome.ROLLED_BACK, Outcome.ROLLED_BACK]
    assert result.message is not None
    assert f"refusing to edit {MAIN_CF}: it changed since mailcert read it" in result.message
    assert main_cf.read_bytes() == by_hand


def test_the_same_edit_against_the_file_as_read_applies_and_keeps_the_secret(
    lab: Lab, tmp_path: Path
) -> None:
    """The control case of the test above: the digest of the hidden text matches the host's own redaction."""
    host = lab.host(HOST)
    main_cf = host.path(MAIN_CF)
    lab.plant(HOST, "leaf-only")
    with main_cf.open("a") as conf:
        conf.write(SECRETS[MAIN_CF])
    read = main_cf.read_text().replace(SECRETS[MAIN_CF], "smtp_sasl_password_maps = (hidden-by-mailcert)\n")
    fixed = read.replace("/cert.pem", "/fullchain.pem")
    inventory = inventory_host(lab, tmp_path)
    change = Change(ChangeKind.EDIT, "fullchain", file=FileChange(MAIN_CF, read, fixed), service="postfix")
    reload = Change(ChangeKind.RELOAD, "reload", service="postfix")

    result = apply_host(
        inventory,
        HostPlan(HOST, (change, reload)),
        run_id=new_run_id(),
        before=recheck(inventory),
        recheck=None,
    )

    assert [c.outcome for c in result.plan.changes] == [Outcome.APPLIED, Outcome.APPLIED], result.message
    assert main_cf.read_text() == fixed.replace(
        "smtp_sasl_password_maps = (hidden-by-mailcert)\n", SECRETS[MAIN_CF]
    )
