"""The host-side shell of fix's cPanel step and of the certbot deploy hook, run by the system's sh against a
recording stand-in for whmapi1: private keys reach whmapi1 on standard input as JSON (`--input=json`) and
never on its command line (readable by every local user in /proc/PID/cmdline); what whmapi1 receives is
byte for byte the files; a failed call after an install puts the previous certificate back the same way."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mailcert.fix.plan.cpanel import STEP, UNDO, WHMAPI1
from tests.pki import TestPKI, cert_pem, key_pem
from tests.unit.test_cpanel_plan import plan
from tests.unit.test_cpanel_role import HOSTNAME, CpanelTree

# Records each call (argv, stdin) as calls/N.json; answers result 0 for functions listed in $FAKE_FAIL.
FAKE = f"""#!{sys.executable}
import json, os, sys
calls = os.path.join(os.environ["FAKE_DIR"], "calls")
os.makedirs(calls, exist_ok=True)
n = len(os.listdir(calls))
data = sys.stdin.read() if "--input=json" in sys.argv else None
with open(os.path.join(calls, "%03d.json" % n), "w") as f:
    json.dump({{"argv": sys.argv[1:], "stdin": data}}, f)
function = [a for a in sys.argv[1:] if not a.startswith("-")][0]
failed = function in os.environ.get("FAKE_FAIL", "").split()
print(json.dumps({{"metadata": {{"command": function, "result": 0 if failed else 1,
                  "reason": "failed on purpose" if failed else "OK"}}}}))
"""


class Lineage:
    def __init__(self, folder: Path, names: list[str]) -> None:
        pki = TestPKI()
        leaf = pki.leaf(names)
        folder.mkdir(parents=True)
        self.folder = folder
        self.cert = cert_pem(leaf.cert).decode()
        self.key = key_pem(leaf.key).decode()
        self.chain = cert_pem(pki.intermediate.cert).decode()
        (folder / "cert.pem").write_text(self.cert)
        (folder / "privkey.pem").write_text(self.key)
        (folder / "chain.pem").write_text(self.chain)


# UAPI stand-in: is_autossl_check_in_progress answers 1 for the first $FAKE_BUSY calls, then 0;
# get_autossl_problems answers one problem when $FAKE_PROBLEM is set. Each call is logged in uapi-calls.
FAKE_UAPI = f"""#!{sys.executable}
import json, os, sys
log = os.path.join(os.environ["FAKE_DIR"], "uapi-calls")
with open(log, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
function = sys.argv[-1]
if function == "is_autossl_check_in_progress":
    with open(log) as f:
        polls = sum(1 for line in f if line.strip().endswith(function))
    data = 1 if polls <= int(os.environ.get("FAKE_BUSY", "0")) else 0
else:
    problem = os.environ.get("FAKE_PROBLEM")
    data = [{{"domain": "alpha.example", "problem": problem, "time": 1}}] if problem else []
print(json.dumps({{"apiversion": 3, "func": function, "module": "SSL",
                  "result": {{"data": data, "errors": None, "status": 1}}}}))
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    for name, text in (("whmapi1", FAKE), ("uapi", FAKE_UAPI)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    return tmp_path / "whmapi1"


def run(
    script: str, fake: Path, fail: str = "", renewed: str | None = None, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RENEWED_LINEAGE"}
    env |= {"FAKE_DIR": str(fake.parent), "FAKE_FAIL": fail, **env_vars}
    if renewed is not None:
        env["RENEWED_LINEAGE"] = renewed
    text = script.replace(f"W={WHMAPI1}\n", f"W={fake}\n")
    assert text != script  # the stand-in is really used
    text = text.replace("U=/usr/local/cpanel/bin/uapi\n", f"U={fake.parent / 'uapi'}\n")
    text = text.replace("AUTOSSL_POLL=2\n", "AUTOSSL_POLL=0\n")
    return subprocess.run(
        ["sh", "-c", text, "mailcert-test"], capture_output=True, text=True, env=env, check=False
    )


def recorded(fake: Path) -> list[dict[str, object]]:
    folder = fake.parent / "calls"
    return [json.loads(p.read_text()) for p in sorted(folder.iterdir())] if folder.exists() else []


def installs(fake: Path) -> list[dict[str, str]]:
    """The arguments of each install_service_ssl_certificate call, checking how they travelled."""
    found = []
    for call in recorded(fake):
        argv = call["argv"]
        assert isinstance(argv, list)
        assert "PRIVATE KEY" not in " ".join(argv)  # never on a command line
        if "install_service_ssl_certificate" in argv:
            assert argv == ["--input=json", "--output=json", "install_service_ssl_certificate"]
            assert isinstance(call["stdin"], str)
            found.append(json.loads(call["stdin"]))
    return found


def hook_text(tmp_path: Path, live: Path) -> str:
    tree = CpanelTree(tmp_path / "host")
    tree.service([HOSTNAME])
    hook = plan(tree).changes[1].file
    assert hook is not None
    return hook.after.replace(f"/etc/letsencrypt/live/{HOSTNAME}", str(live))


def test_deploy_hook_sends_the_renewed_lineage_to_whmapi1_on_stdin(tmp_path: Path, fake: Path) -> None:
    lineage = Lineage(tmp_path / "live", [HOSTNAME])
    done = run(hook_text(tmp_path, lineage.folder), fake, renewed=str(lineage.folder))
    assert done.returncode == 0, done.stderr
    bodies = installs(fake)
    assert [b["service"] for b in bodies] == ["dovecot", "exim"]
    for body in bodies:
        assert (body["crt"], body["key"], body["cabundle"]) == (lineage.cert, lineage.key, lineage.chain)


def test_deploy_hook_leaves_cpanel_alone_for_another_lineage(tmp_path: Path, fake: Path) -> None:
    lineage = Lineage(tmp_path / "live", [HOSTNAME])
    done = run(hook_text(tmp_path, lineage.folder), fake, renewed="/etc/letsencrypt/live/other.example")
    assert (done.returncode, recorded(fake)) == (0, [])


def test_deploy_hook_fails_when_cpanel_refuses(tmp_path: Path, fake: Path) -> None:
    lineage = Lineage(tmp_path / "live", [HOSTNAME])
    done = run(hook_text(tmp_path, lineage.folder), fake, fail="install_service_ssl_certificate")
    assert done.returncode == 1
    assert "install_service_ssl_certificate service=exim failed" in done.stderr


def test_a_key_file_that_is_not_pem_text_is_not_sent(tmp_path: Path, fake: Path) -> None:
    lineage = Lineage(tmp_path / "live", [HOSTNAME])
    (lineage.folder / "privkey.pem").write_bytes(b"\x00\x01garbage\xff\n")
    done = run(hook_text(tmp_path, lineage.folder), fake)
    assert done.returncode == 1
    assert "privkey.pem is not a readable PEM text file" in done.stderr
    assert recorded(fake) == []


def test_fix_step_puts_the_previous_certificate_back_when_a_later_call_fails(
    tmp_path: Path, fake: Path
) -> None:
    new = Lineage(tmp_path / "live", [HOSTNAME])
    old = Lineage(tmp_path / "old", ["old.example.test"])
    current_crt = tmp_path / "myexim.crt"
    current_crt.write_text(old.cert + old.chain)  # cPanel's configured file: crt + cab
    (tmp_path / "myexim.key").write_text(old.key)
    words = ("exim", str(new.folder), str(current_crt), str(tmp_path / "myexim.key"))
    lines = ["install " + " ".join(shlex.quote(w) for w in words), "autossl alpha", "finish"]
    done = run(STEP + "\n" + "\n".join(lines) + "\n", fake, fail="start_autossl_check_for_one_user")
    assert done.returncode == 1
    assert "whmapi1 start_autossl_check_for_one_user failed: failed on purpose" in done.stderr
    assert "put the previous exim certificate back through whmapi1" in done.stderr
    first, second = installs(fake)
    assert (first["crt"], first["key"], first["cabundle"]) == (new.cert, new.key, new.chain)
    assert (second["service"], second["crt"], second["key"], second["cabundle"]) == (
        "exim",
        old.cert,
        old.key,
        old.chain,
    )


def step_with(tmp_path: Path, *lines: str) -> str:
    return STEP + "\n" + "\n".join(lines) + "\nfinish\n"


def test_fix_step_waits_for_the_background_autossl_check_then_rebuilds(tmp_path: Path, fake: Path) -> None:
    done = run(step_with(tmp_path, "autossl alpha", "rebuild"), fake, FAKE_BUSY="3")
    assert done.returncode == 0, done.stderr
    polls = (tmp_path / "uapi-calls").read_text().splitlines()
    assert polls == ["--user=alpha --output=json SSL is_autossl_check_in_progress"] * 4 + [
        "--user=alpha --output=json SSL get_autossl_problems"
    ]
    # the rebuild comes after the check has finished, not while it runs
    assert [c["argv"][-1] for c in recorded(fake)] == ["username=alpha", "reload_dovecot=1"]


def test_fix_step_fails_with_autossls_problem_and_puts_the_service_certificate_back(
    tmp_path: Path, fake: Path
) -> None:
    new = Lineage(tmp_path / "live", [HOSTNAME])
    old = Lineage(tmp_path / "old", ["old.example.test"])
    (tmp_path / "myexim.crt").write_text(old.cert + old.chain)
    (tmp_path / "myexim.key").write_text(old.key)
    words = ("exim", str(new.folder), str(tmp_path / "myexim.crt"), str(tmp_path / "myexim.key"))
    step = step_with(
        tmp_path, "install " + " ".join(shlex.quote(w) for w in words), "autossl alpha", "rebuild"
    )
    done = run(step, fake, FAKE_PROBLEM="DNS DCV: no TXT record")
    assert done.returncode == 1
    assert "cPanel's AutoSSL could not get a certificate for alpha: DNS DCV: no TXT record" in done.stderr
    assert "put the previous exim certificate back" in done.stderr
    assert "kept:" not in done.stderr  # a failed check changed no Domain TLS certificate
    assert [b["crt"] for b in installs(fake)] == [new.cert, old.cert]
    assert not any("rebuild_mail_sni_config" in c["argv"] for c in recorded(fake))  # type: ignore[operator]


def test_a_check_that_never_ends_fails_after_the_wait(tmp_path: Path, fake: Path) -> None:
    step = step_with(tmp_path, "autossl alpha").replace("AUTOSSL_WAIT=900\n", "AUTOSSL_WAIT=0\n")
    done = run(step, fake, FAKE_BUSY="1000")
    assert done.returncode == 1
    assert "AutoSSL check for alpha still runs after 0 s" in done.stderr


def test_the_steps_undo_installs_the_certificate_from_before_the_run(tmp_path: Path, fake: Path) -> None:
    # what the switch runs when the re-probe after a good step finds the host worse, or on fix --rollback
    new = Lineage(tmp_path / "live", [HOSTNAME])
    old = Lineage(tmp_path / "old", ["old.example.test"])
    (tmp_path / "myexim.crt").write_text(old.cert + old.chain)
    (tmp_path / "myexim.key").write_text(old.key)
    record = tmp_path / "run"
    record.mkdir(mode=0o700)
    words = ("exim", str(new.folder), str(tmp_path / "myexim.crt"), str(tmp_path / "myexim.key"))
    step = step_with(tmp_path, "install " + " ".join(shlex.quote(w) for w in words))
    assert run(step, fake, MAILCERT_RUN_DIR=str(record)).returncode == 0
    undone = run(UNDO, fake, MAILCERT_RUN_DIR=str(record))
    assert undone.returncode == 0, undone.stderr
    assert "put the previous exim certificate back" in undone.stderr
    assert [(b["service"], b["crt"], b["key"], b["cabundle"]) for b in installs(fake)] == [
        ("exim", new.cert, new.key, new.chain),
        ("exim", old.cert, old.key, old.chain),
    ]


def test_an_undo_with_nothing_installed_changes_nothing(tmp_path: Path, fake: Path) -> None:
    done = run(UNDO, fake, MAILCERT_RUN_DIR=str(tmp_path))
    assert done.returncode == 0
    assert "nothing to put back" in done.stderr
    assert recorded(fake) == []


def test_an_undo_after_an_install_onto_no_earlier_certificate_says_so(tmp_path: Path, fake: Path) -> None:
    """cPanel had no service certificate file before: the step installs, the undo has nothing to put back
    and says that nothing earlier was kept (not that nothing was installed)."""
    new = Lineage(tmp_path / "live", [HOSTNAME])
    record = tmp_path / "run"
    record.mkdir(mode=0o700)
    words = ("exim", str(new.folder), str(tmp_path / "absent.crt"), str(tmp_path / "absent.key"))
    step = step_with(tmp_path, "install " + " ".join(shlex.quote(w) for w in words))
    assert run(step, fake, MAILCERT_RUN_DIR=str(record)).returncode == 0
    undone = run(UNDO, fake, MAILCERT_RUN_DIR=str(record))
    assert undone.returncode == 0, undone.stderr
    assert "nothing to put back: this run kept no earlier service certificate" in undone.stderr
    assert [b["crt"] for b in installs(fake)] == [new.cert]  # the undo made no call
