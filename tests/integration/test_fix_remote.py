"""The host-side apply program (mailcert/fix/worker/apply.sh) run for real as root on this machine, on
files in a temporary folder: lock, backup, atomic write keeping owner and mode, validation baseline,
restore byte-identical, leftovers; and certbot's real failure text turned into one line."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mailcert.fix.acme.host import certbot_argv, certbot_reason
from mailcert.fix.apply.payload import switch_payload
from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan
from mailcert.fix.worker import EXIT_BUSY, EXIT_NO_RECORD, apply_argv

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="the apply program chowns files and runs as root on hosts; CI runs tests as root",
)


def program(state: Path, action: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The program as the control side calls it, for inventory host "local" (RUN [WHY] after ACTION)."""
    if args and action not in ("hold", "leftovers"):
        args = (args[0], "local", *args[1:])
    return subprocess.run(
        apply_argv(action, str(state), *args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def hold(state: Path, run_id: str) -> tuple[subprocess.Popen[str], str]:
    holder = subprocess.Popen(
        apply_argv("hold", str(state), run_id), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    return holder, holder.stdout.readline().strip()


def release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=30)


def facts(path: Path) -> tuple[str, int, int, int] | None:
    if not path.exists():
        return None
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mode, st.st_uid, st.st_gid


@pytest.fixture
def site(tmp_path: Path) -> Path:
    conf = tmp_path / "etc"
    conf.mkdir()
    (conf / "main.cf").write_text("smtpd_tls_cert_file = /a/cert.pem\n# keep me\n")
    os.chown(conf / "main.cf", 65534, 65534)
    (conf / "main.cf").chmod(0o640)
    (conf / "real.cf").write_text("target\n")
    (conf / "link.cf").symlink_to(conf / "real.cf")
    return tmp_path


def plan_for(site: Path, check: str = "true", reload_cmd: str = "true") -> HostPlan:
    main = site / "etc" / "main.cf"
    return HostPlan(
        "local",
        (
            Change(
                ChangeKind.EDIT,
                "e",
                file=FileChange(
                    str(main), main.read_text(), "smtpd_tls_cert_file = /a/fullchain.pem\n# keep me\n"
                ),
            ),
            Change(
                ChangeKind.CREATE, "c", file=FileChange(str(site / "etc" / "new.cf"), None, "", mode=0o600)
            ),
            Change(
                # the path behind link.cf, as the planner resolves it (a link is never written through)
                ChangeKind.EDIT,
                "l",
                file=FileChange(str(site / "etc" / "real.cf"), "target\n", "changed\n"),
            ),
            Change(ChangeKind.RELOAD, "r", command=Command(("sh", "-c", reload_cmd))),
        ),
        validations=(Command(("sh", "-c", check)),),
    )


def test_switch_writes_atomically_keeping_owner_mode_and_symlinks(site: Path) -> None:
    state = site / "state"
    holder, said = hold(state, "R1")
    assert said == "locked"
    try:
        done = program(state, "switch", "R1", stdin=switch_payload(plan_for(site)))
    finally:
        release(holder)
    assert done.stdout.splitlines()[0] == "applied", done.stdout + done.stderr
    main = site / "etc" / "main.cf"
    assert main.read_text() == "smtpd_tls_cert_file = /a/fullchain.pem\n# keep me\n"
    assert (main.stat().st_uid, main.stat().st_gid, main.stat().st_mode & 0o7777) == (65534, 65534, 0o640)
    assert (site / "etc" / "new.cf").read_text() == ""
    assert (site / "etc" / "new.cf").stat().st_mode & 0o777 == 0o600
    assert (site / "etc" / "link.cf").is_symlink()  # the link stays; the resolved path gets the content
    assert (site / "etc" / "real.cf").read_text() == "changed\n"
    assert not list((site / "etc").glob(".mailcert-*"))  # no temporary file left behind
    assert not (state / "lock").exists()


@pytest.mark.parametrize(
    ("check", "reload_cmd", "says"),
    [
        ("echo 'fatal: broken' >&2; exit 1", "true", "validation failed: "),
        # warns only once the new main.cf is in place: a new warning
        (
            "! grep -q fullchain {main} || echo 'postconf: warning: unused parameter: x=1' >&2",
            "true",
            "validation warns: ",
        ),
        ("true", "echo 'not running' >&2; exit 1", "reload failed: "),
    ],
)
def test_any_failure_restores_byte_identical(site: Path, check: str, reload_cmd: str, says: str) -> None:
    files = [site / "etc" / n for n in ("main.cf", "new.cf", "real.cf")]
    before = [facts(f) for f in files]
    state = site / "state"
    holder, _ = hold(state, "R2")
    try:
        check = check.format(main=site / "etc" / "main.cf")
        done = program(state, "switch", "R2", stdin=switch_payload(plan_for(site, check, reload_cmd)))
    finally:
        release(holder)
    status, reason = done.stdout.splitlines()[:2]
    assert status == "rolled-back"
    assert reason.startswith(says)
    assert [facts(f) for f in files] == before


def test_a_warning_that_was_there_before_is_not_the_changes_fault(site: Path) -> None:
    state = site / "state"
    holder, _ = hold(state, "R3")
    try:
        old_warning = "echo 'warning: /etc/x line 12: deprecated' >&2"  # line numbers may shift with the edit
        done = program(state, "switch", "R3", stdin=switch_payload(plan_for(site, old_warning)))
    finally:
        release(holder)
    assert done.stdout.startswith("applied\n")


def test_a_second_run_is_refused_while_the_first_holds_the_lock_and_takes_over_a_dead_one(site: Path) -> None:
    state = site / "state"
    first, said = hold(state, "FIRST")
    assert said == "locked"
    second = program(state, "hold", "SECOND")
    assert second.returncode == EXIT_BUSY and second.stdout == ""
    assert second.stderr.startswith("busy FIRST ")
    first.kill()  # the control side died without releasing: the holder is gone, the lock stays
    first.wait(timeout=30)
    assert (state / "lock").exists()
    third, said = hold(state, "THIRD")
    try:
        assert said == "taken-over FIRST"
    finally:
        release(third)


def test_a_later_rollback_restores_and_leftovers_are_listed_until_reported(site: Path) -> None:
    state = site / "state"
    before = facts(site / "etc" / "main.cf")
    holder, _ = hold(state, "R4")
    try:
        assert program(state, "switch", "R4", stdin=switch_payload(plan_for(site))).stdout.startswith(
            "applied"
        )
    finally:
        release(holder)
    assert program(state, "leftovers").stdout.split()[:2] == ["R4@local", "applied"]
    holder, _ = hold(state, "R4")
    try:
        undone = program(state, "restore", "R4", "rolled back by hand")
    finally:
        release(holder)
    assert undone.stdout.splitlines() == ["rolled-back", "rolled back by hand"]
    assert facts(site / "etc" / "main.cf") == before
    assert not (site / "etc" / "new.cf").exists()
    program(state, "reported", "R4")
    assert program(state, "leftovers").stdout == ""


def test_switch_refuses_without_the_lock(site: Path) -> None:
    done = program(site / "state", "switch", "NOLOCK", stdin=switch_payload(plan_for(site)))
    assert done.returncode == 2
    assert "not held by run NOLOCK" in done.stderr


def test_certbot_unreachable_acme_server_is_one_clear_line(tmp_path: Path) -> None:
    if shutil.which("certbot") is None:
        pytest.fail("certbot is a system dependency (scripts/install-system-deps)")
    command = Command(
        ("certbot", "certonly", "--standalone", "--agree-tos", "--email", "a@mailcert.test",
         "-d", "mail.mailcert.test", "--server", "https://127.0.0.1:9/dir",
         "--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"), "--logs-dir", str(tmp_path / "l")),
        env=(("REQUESTS_CA_BUNDLE", "/nonexistent-bundle.pem"),),
    )  # fmt: skip
    argv = certbot_argv(command)
    assert argv[:2] == ["env", "REQUESTS_CA_BUNDLE=/nonexistent-bundle.pem"]
    assert "--non-interactive" in argv
    done = subprocess.run(argv[2:], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert certbot_reason(done.stdout + done.stderr).startswith("cannot reach the ACME server (127.0.0.1")


def test_renew_never_sleeps_names_a_contact_and_env_names_are_checked() -> None:
    assert "--no-random-sleep-on-renew" in certbot_argv(Command(("certbot", "renew", "--cert-name", "x")))
    argv = certbot_argv(Command(("certbot", "renew", "--cert-name", "x")), email="postmaster@mailcert.test")
    assert argv[-3:] == ["--email", "postmaster@mailcert.test", "--agree-tos"]
    kept = certbot_argv(Command(("certbot", "renew", "-m", "a@b.test")), email="postmaster@mailcert.test")
    assert "postmaster@mailcert.test" not in kept
    with pytest.raises(ValueError, match="bad environment variable"):
        certbot_argv(Command(("certbot", "renew"), env=(("A;rm -rf /", "x"),)))


def test_hosts_of_one_run_sharing_a_state_folder_keep_the_lock_until_the_last_is_done(site: Path) -> None:
    state = site / "state"
    first, said = hold(state, "SHARED")
    second, said_second = hold(state, "SHARED")
    assert (said, said_second) == ("locked", "resumed")
    release(first)
    busy = program(state, "hold", "OTHER")
    assert busy.returncode == EXIT_BUSY and busy.stderr.startswith("busy SHARED ")
    try:
        done = program(state, "switch", "SHARED", stdin=switch_payload(plan_for(site)))
        assert done.stdout.startswith("applied"), done.stderr
    finally:
        release(second)
    assert not (state / "lock").exists()


def test_a_failed_renewal_names_certbots_reason() -> None:
    # certbot 2.1 `renew` on a lineage without an ACME account, as printed on stderr
    said = (
        "Saving debug log to /var/log/letsencrypt/letsencrypt.log\n"
        "Processing /etc/letsencrypt/renewal/mail.mx1.mailcert.test.conf\n"
        "Failed to renew certificate mail.mx1.mailcert.test with error: You should register before running "
        "non-interactively, or provide --agree-tos and --email <email_address> flags.\n"
        "All renewals failed. The following certificates could not be renewed:\n"
        "  /etc/letsencrypt/live/mail.mx1.mailcert.test/fullchain.pem (failure)\n"
        "1 renew failure(s), 0 parse failure(s)\n"
        "Ask for help or search for solutions at https://community.letsencrypt.org. See the logfile "
        "/var/log/letsencrypt/letsencrypt.log or re-run Certbot with -v for more details.\n"
    )
    assert certbot_reason(said).startswith("You should register before running non-interactively")


def test_commands_run_again_after_a_restore_so_built_tables_match_the_restored_files(site: Path) -> None:
    table = site / "etc" / "sni"
    table.write_text("old\n")
    built = site / "etc" / "sni.db"
    plan = HostPlan(
        "local",
        (
            Change(ChangeKind.EDIT, "e", file=FileChange(str(table), "old\n", "new\n")),
            Change(ChangeKind.COMMAND, "build", command=Command(("cp", str(table), str(built)))),
            Change(ChangeKind.RELOAD, "r", command=Command(("false",))),
        ),
    )
    state = site / "state"
    holder, _ = hold(state, "R5")
    try:
        done = program(state, "switch", "R5", stdin=switch_payload(plan))
    finally:
        release(holder)
    assert done.stdout.startswith("rolled-back\nreload failed: false")
    assert table.read_text() == "old\n"
    assert built.read_text() == "old\n"  # rebuilt from the restored source, not left as "new"


def _api_plan(site: Path, reload_ok: bool) -> HostPlan:
    """An API step (its effect outside the files: here a log) with its undo, as cPanel's fix step has."""
    log = site / "api.log"
    step = f'echo call >>{log}; echo "$MAILCERT_RUN_DIR" >{site / "run-dir"}'
    return HostPlan(
        "local",
        (
            Change(ChangeKind.CREATE, "hook", file=FileChange(str(site / "etc" / "hook"), None, "x\n")),
            Change(
                ChangeKind.COMMAND,
                "api",
                command=Command(("sh", "-c", step)),
                undo=Command(("sh", "-c", f"echo undo >>{log}")),
            ),
            Change(ChangeKind.RELOAD, "r", command=Command(("true",) if reload_ok else ("false",))),
        ),
    )


def test_an_api_step_is_undone_not_run_again_when_the_switch_fails(site: Path) -> None:
    # Re-running it after a restore (as for postmap -F) would make the API change again.
    state = site / "state"
    holder, _ = hold(state, "R6")
    try:
        done = program(state, "switch", "R6", stdin=switch_payload(_api_plan(site, reload_ok=False)))
    finally:
        release(holder)
    assert done.stdout.startswith("rolled-back\nreload failed: false"), done.stdout + done.stderr
    assert (site / "api.log").read_text() == "call\nundo\n"
    assert not (site / "etc" / "hook").exists()
    # the step was told where the run's root-only record is (for what its undo needs)
    run_dir = Path((site / "run-dir").read_text().strip())
    assert run_dir == state / "runs" / "R6@local" and run_dir.stat().st_mode & 0o777 == 0o700


def test_a_later_rollback_runs_the_api_steps_undo(site: Path) -> None:
    state = site / "state"
    holder, _ = hold(state, "R7")
    try:
        done = program(state, "switch", "R7", stdin=switch_payload(_api_plan(site, reload_ok=True)))
        assert done.stdout.startswith("applied"), done.stdout + done.stderr
        assert (site / "api.log").read_text() == "call\n"
        undone = program(state, "restore", "R7", "bad re-probe")
    finally:
        release(holder)
    assert undone.stdout.splitlines() == ["rolled-back", "bad re-probe"]
    assert (site / "api.log").read_text() == "call\nundo\n"


def test_a_switch_prunes_old_run_records_that_need_nobody_and_keeps_the_rest(site: Path) -> None:
    """Records hold config backups (and cPanel's service keys): beyond the newest KEEP_RUNS of a host, the
    ended, reported ones go. A failed run (restore by hand), one nobody saw end, one whose worker still
    runs, and another host's records stay."""
    state = site / "state"
    runs = state / "runs"

    def record(name: str, status: str = "applied", reported: bool = True, done: bool = True) -> None:
        folder = runs / name
        (folder / "files").mkdir(parents=True)
        (folder / "status").write_text(f"{status}\nwhy\n")
        (folder / "files" / "main.cf").write_text("backup\n")
        if reported:
            (folder / "reported").touch()
        if done:
            (folder / "worker.done").touch()

    record("R01@local", status="failed")
    record("R02@local", reported=False)
    record("R03@local", done=False)
    record("R04@local", status="rolled-back")
    for i in range(5, 26):
        record(f"R{i:02d}@local")
    record("R00@other")  # another inventory host sharing the folder: its own count
    holder, _ = hold(state, "R99")
    try:
        done = program(state, "switch", "R99", stdin=switch_payload(plan_for(site)))
    finally:
        release(holder)
    assert done.stdout.startswith("applied"), done.stdout + done.stderr
    kept = sorted(p.name for p in runs.iterdir())
    # 25 earlier records of "local": the 5 oldest are beyond the newest 20; of those R04 and R05 need nobody
    assert kept == ["R00@other", "R01@local", "R02@local", "R03@local"] + [
        f"R{i:02d}@local" for i in range(6, 26)
    ] + ["R99@local"]
    holder, _ = hold(state, "R05")
    try:
        gone = program(state, "restore", "R05", "by hand")
    finally:
        release(holder)
    assert gone.returncode == EXIT_NO_RECORD, gone.stderr
    assert gone.stdout.splitlines() == [
        "not-found",
        "no record of run R05 on this host: it changed nothing here, or it is older than the newest 20 runs "
        "the host keeps",
    ]
