"""The applier on real lab hosts (Postfix, Dovecot, sshd, sudo) with hand-made plans: the switch, its
validation and reload failures, the re-check that rolls back, certbot failing, and `--rollback RUN-ID`.

Every failure path ends with the host's files byte-identical (content, owner, mode) to before."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcert.audit.host import AuditSettings, audit_host
from mailcert.fix.apply.host import HostApplied, apply_host, new_run_id
from mailcert.fix.apply.rollback import rollback_host
from mailcert.fix.model import Change, ChangeKind, Command, FileChange, HostPlan, Outcome
from mailcert.inventory import InventoryHost, load_inventory
from mailcert.lab.kinds.dovecot import SSL_CONF
from mailcert.lab.kinds.postfix import MAIN_CF
from mailcert.lab.pebble import ACME_PORT
from mailcert.model import HostReport
from mailcert.redaction import redact_text
from tests.lab.fixture import Lab

# /var/lib is the machine's own in the lab (not per host); /etc is each host's own.
STATE_DIR = "/etc/mailcert-state"
HOST = "mx1"


def fix_inventory(lab: Lab, folder: Path) -> Path:
    """The lab's inventory, copied, with mailcert_state_dir set to a per-host folder."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(lab.inventory, folder / "inventory.yml")
    shutil.copytree(lab.dir / "host_vars", folder / "host_vars", dirs_exist_ok=True)
    (folder / "group_vars").mkdir(exist_ok=True)
    (folder / "group_vars" / "all.yml").write_text(f"mailcert_state_dir: {STATE_DIR}\n")
    return folder / "inventory.yml"


def inventory_host(lab: Lab, folder: Path, name: str = HOST) -> InventoryHost:
    return load_inventory(str(fix_inventory(lab, folder))).host(name)


def snapshot(lab: Lab, name: str, paths: Iterable[str]) -> dict[str, tuple[str, int, int, int] | None]:
    """sha256, mode, uid, gid of each host file (None when absent), read through the host's root."""
    shot: dict[str, tuple[str, int, int, int] | None] = {}
    for path in paths:
        local = lab.host(name).path(path)
        if not local.exists():
            shot[path] = None
            continue
        st = local.stat()
        shot[path] = (hashlib.sha256(local.read_bytes()).hexdigest(), st.st_mode, st.st_uid, st.st_gid)
    return shot


def settings() -> AuditSettings:
    return AuditSettings(now=datetime.now(UTC))


def recheck(host: InventoryHost) -> HostReport:
    return audit_host(host, settings()).report


def checks(report: HostReport) -> set[str]:
    return {f.check for f in report.findings}


def as_gathered(text: str, path: str = "") -> str:
    """A host file's text as `audit` receives it (secret-looking values hidden, also in comments such as
    Debian's `#ssl_key_password =`): what the planners edit and what the host checks an edit's digest
    against, so a plan built from the file's raw text would be refused as "changed since it was read". `path`
    picks the continuation rule (a Postfix .cf file, a SASL map, the rest)."""
    return redact_text(text, path)


def edit(path: str, before: str, after: str) -> Change:
    """An edit of `path` as a planner makes it: on the gathered text (`before` and `after` are raw)."""
    return Change(
        ChangeKind.EDIT,
        f"edit {path}",
        file=FileChange(path, as_gathered(before, path), as_gathered(after, path)),
    )


def reload(service: str) -> Change:
    return Change(ChangeKind.RELOAD, f"reload {service}", service=service)


def outcomes(result: HostApplied) -> list[Outcome]:
    return [c.outcome for c in result.plan.changes]


def run(host: InventoryHost, plan: HostPlan, before: HostReport | None = None) -> HostApplied:
    return apply_host(host, plan, run_id=new_run_id(), before=before or recheck(host), recheck=recheck)


def test_a_planted_fault_is_fixed_end_to_end_and_the_file_keeps_owner_and_mode(
    lab: Lab, tmp_path: Path
) -> None:
    lab.plant(HOST, "leaf-only")
    host = inventory_host(lab, tmp_path)
    before = recheck(host)
    assert "config.cert-not-fullchain" in checks(before)
    main_cf = lab.host(HOST).path(MAIN_CF)
    os.chmod(main_cf, 0o640)  # an admin's own mode, which the atomic write must keep
    text = main_cf.read_text()
    fixed = text.replace("/cert.pem", "/fullchain.pem")
    assert fixed != text
    stat_before = main_cf.stat()

    result = run(host, HostPlan(HOST, (edit(MAIN_CF, text, fixed), reload("postfix"))), before)

    assert outcomes(result) == [Outcome.APPLIED, Outcome.APPLIED], result.message
    assert main_cf.read_text() == fixed
    stat_after = main_cf.stat()
    assert (stat_after.st_mode, stat_after.st_uid, stat_after.st_gid) == (
        stat_before.st_mode,
        stat_before.st_uid,
        stat_before.st_gid,
    )
    assert result.after is not None
    assert "config.cert-not-fullchain" not in checks(result.after)
    assert "cert.chain-incomplete" not in checks(result.after)  # the reload reached the daemon: chain served
    smtp = [e for e in result.after.endpoints if e.service == "postfix" and e.served is not None]
    assert smtp and all(e.served.chain_length >= 2 for e in smtp if e.served)
    backup = lab.host(HOST).path(f"{STATE_DIR}/runs/{result.plan.run_id}@{HOST}")
    assert (backup / "status").read_text().startswith("applied\n")


def test_a_dovecot_validation_failure_restores_byte_identical(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)  # reset afterwards, whatever happens
    host = inventory_host(lab, tmp_path)
    ssl_conf = lab.host(HOST).path(SSL_CONF)
    text = ssl_conf.read_text()
    broken = text + "ssl_cert_chain = </etc/dovecot/chain.pem\n"  # a setting Dovecot 2.3 does not know
    watched = [SSL_CONF, MAIN_CF]
    shot = snapshot(lab, HOST, watched)

    result = run(host, HostPlan(HOST, (edit(SSL_CONF, text, broken), reload("dovecot"))))

    assert outcomes(result) == [Outcome.ROLLED_BACK, Outcome.ROLLED_BACK]
    # role.yml's validation, as the message names it; doveconf's own Fatal line follows its config header
    assert result.message is not None and result.message.startswith("validation failed: doveconf -n: ")
    assert "doveconf: Fatal: Error in configuration file /etc/dovecot/conf.d/10-ssl.conf" in result.message
    assert "ssl_cert_chain" in result.message  # doveconf's own reason reaches the report
    assert snapshot(lab, HOST, watched) == shot


def test_a_new_postconf_warning_restores_byte_identical(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)
    host = inventory_host(lab, tmp_path)
    main_cf = lab.host(HOST).path(MAIN_CF)
    text = main_cf.read_text()
    typo = text + "smtpd_tls_security_levle = may\n"  # postconf: warning: unused parameter
    shot = snapshot(lab, HOST, [MAIN_CF])

    result = run(host, HostPlan(HOST, (edit(MAIN_CF, text, typo), reload("postfix"))))

    assert outcomes(result) == [Outcome.ROLLED_BACK, Outcome.ROLLED_BACK]
    assert result.message is not None and result.message.startswith("validation warns: postfix check:")
    assert "unused parameter: smtpd_tls_security_levle" in result.message
    assert snapshot(lab, HOST, [MAIN_CF]) == shot


def test_a_reload_failure_restores_byte_identical(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)  # the reset starts Postfix again
    host = inventory_host(lab, tmp_path)
    before = recheck(host)
    assert lab.exec(HOST, "postfix", "stop").returncode == 0  # `postfix reload` now fails for real
    main_cf = lab.host(HOST).path(MAIN_CF)
    text = main_cf.read_text()
    shot = snapshot(lab, HOST, [MAIN_CF])

    result = run(host, HostPlan(HOST, (edit(MAIN_CF, text, text + "# touched\n"), reload("postfix"))), before)

    assert outcomes(result) == [Outcome.ROLLED_BACK, Outcome.ROLLED_BACK]
    assert result.message is not None
    assert result.message.startswith("reload failed: reload of postfix (exit 1)")
    assert snapshot(lab, HOST, [MAIN_CF]) == shot


def test_a_change_that_makes_the_served_chain_worse_is_rolled_back(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)
    host = inventory_host(lab, tmp_path)
    before = recheck(host)
    assert "cert.chain-incomplete" not in checks(before)
    main_cf = lab.host(HOST).path(MAIN_CF)
    text = main_cf.read_text()
    leaf_only = text.replace("/fullchain.pem", "/cert.pem")  # valid for postfix check, worse for clients
    shot = snapshot(lab, HOST, [MAIN_CF])

    result = run(host, HostPlan(HOST, (edit(MAIN_CF, text, leaf_only), reload("postfix"))), before)

    assert outcomes(result) == [Outcome.ROLLED_BACK, Outcome.ROLLED_BACK]
    assert result.message is not None and "new critical finding after the change" in result.message
    assert snapshot(lab, HOST, [MAIN_CF]) == shot
    assert "cert.chain-incomplete" not in checks(recheck(host))  # and the daemon serves the old file again


def test_certbot_failing_changes_nothing_else_and_says_why(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)
    host = inventory_host(lab, tmp_path)
    # An ACME directory where no server runs (the lab's Pebble listens on ACME_PORT): "server stopped".
    down = host.acme_server.replace(f":{ACME_PORT}/", f":{ACME_PORT + 7}/")
    assert down != host.acme_server
    names = [f"-d={n}" for n in host.hostnames]
    certonly = Command(
        ("certbot", "certonly", "--standalone", "--agree-tos", "--cert-name", "mailcert-test",
         "--email", "postmaster@mailcert.test", "--server", down, *names),
        env=(("REQUESTS_CA_BUNDLE", str(lab.ca_bundle)),),
    )  # fmt: skip
    main_cf = lab.host(HOST).path(MAIN_CF)
    text = main_cf.read_text()
    shot = snapshot(lab, HOST, [MAIN_CF, "/etc/letsencrypt/live/mailcert-test/fullchain.pem"])
    plan = HostPlan(
        HOST,
        (
            Change(ChangeKind.ISSUE, "issue a certificate", command=certonly),
            edit(MAIN_CF, text, text.replace("/fullchain.pem", "/../mailcert-test/fullchain.pem")),
            reload("postfix"),
        ),
    )

    result = run(host, plan)

    assert outcomes(result) == [Outcome.FAILED, Outcome.SKIPPED, Outcome.SKIPPED]
    assert result.message is not None and "cannot reach the ACME server" in result.message
    assert "nothing else was changed" in result.message
    assert snapshot(lab, HOST, [MAIN_CF, "/etc/letsencrypt/live/mailcert-test/fullchain.pem"]) == shot


def test_rollback_of_a_run_later_restores_byte_identical(lab: Lab, tmp_path: Path) -> None:
    lab.changed(HOST)
    host = inventory_host(lab, tmp_path)
    main_cf = lab.host(HOST).path(MAIN_CF)
    text = main_cf.read_text()
    new_file = "/etc/postfix/mailcert-note.cf"
    shot = snapshot(lab, HOST, [MAIN_CF, new_file])
    plan = HostPlan(
        HOST,
        (
            edit(MAIN_CF, text, text + "# mailcert was here\n"),
            Change(ChangeKind.CREATE, "note", file=FileChange(new_file, None, "x\n", mode=0o600)),
            reload("postfix"),
        ),
    )
    result = run(host, plan)
    assert outcomes(result) == [Outcome.APPLIED] * 3, result.message
    assert snapshot(lab, HOST, [MAIN_CF, new_file]) != shot
    assert oct(lab.host(HOST).path(new_file).stat().st_mode & 0o777) == "0o600"

    undone = rollback_host(host, result.plan.run_id or "")

    assert undone.state == "rolled-back", undone.reason
    assert snapshot(lab, HOST, [MAIN_CF, new_file]) == shot
    again = rollback_host(host, "20000101T000000Z-000000")
    assert again.state == "not-found"


@pytest.mark.parametrize("bad", ["../etc", "a b", ""])
def test_rollback_refuses_a_malformed_run_id(bad: str) -> None:
    from mailcert.errors import UsageError
    from mailcert.fix.apply.rollback import check_run_id

    with pytest.raises(UsageError):
        check_run_id(bad)
