"""`probe` against a real Postfix and a real Dovecot on loopback ports, each in its own temporary config dir.

Every standard role is served on a free loopback port (the port→role mapping is passed as protocol + mode,
as `--protocol/--starttls/--implicit` do), plus the faults real daemons produce: Postfix answering STARTTLS
with `454 4.7.0 TLS not available due to local problem` (key does not match the certificate), a submission
port that speaks implicit TLS, an smtps port without wrappermode, STARTTLS not offered, a leaf-only chain.
Runs as root (daemons drop privileges to postfix/dovecot users); skipped only when not root.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from mailcert.checks.certs import CheckOptions
from mailcert.checks.served import check_consistency, check_probe
from mailcert.cli import build_program
from mailcert.model import Mode
from mailcert.pki.trust import TrustStore
from mailcert.probe import Observed, ProbeResult, Timeouts, probe_all, target_for
from tests.pki import NOW, TestPKI, cert_pem

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="starts Postfix and Dovecot, which needs root")

HOST = "mail.example.test"
TIMEOUTS = Timeouts(connect=2, read=2, endpoint=8)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, what: str, log: Path) -> None:
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(
        f"{what} is not listening on {port}; log:\n{log.read_text() if log.exists() else '-'}"
    )


@dataclass
class Daemons:
    pki: TestPKI
    ports: dict[str, int]
    leaf_sha256: str
    dir: Path


def _write_pki(pki: TestPKI, d: Path) -> str:
    leaf = pki.leaf([HOST, "127.0.0.1"])
    other = pki.leaf(["other.example.test"])
    (d / "key.pem").write_bytes(leaf.key_pem())
    (d / "fullchain.pem").write_bytes(pki.bundle(leaf))
    (d / "leaf-only.pem").write_bytes(leaf.pem)
    # Key and leaf of different pairs: Postfix logs "does not match" and answers STARTTLS with 454.
    (d / "mismatch.pem").write_bytes(leaf.key_pem() + cert_pem(other.cert))
    for name in ("key.pem", "mismatch.pem"):
        (d / name).chmod(0o600)
    # Dovecot gets its own copies, so renewing them (tls.stale) leaves Postfix alone.
    (d / "dovecot-fullchain.pem").write_bytes(pki.bundle(leaf))
    (d / "dovecot-key.pem").write_bytes(leaf.key_pem())
    (d / "dovecot-key.pem").chmod(0o600)
    return leaf.cert.fingerprint(hashes.SHA256()).hex()


def _start_postfix(d: Path, ports: dict[str, int]) -> None:
    cfg = d / "postfix"
    cfg.mkdir()
    (d / "data").mkdir()
    shutil.chown(d / "data", "postfix", "postfix")
    main_cf = f"""
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = {HOST}
mydestination =
alias_maps =
alias_database =
smtputf8_enable = no
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
smtpd_tls_security_level = may
smtpd_tls_chain_files = {d}/key.pem, {d}/fullchain.pem
"""
    (cfg / "main.cf").write_text(main_cf)
    smtpd = "inet  n  -  n  -  -  smtpd"
    master_cf = f"""
127.0.0.1:{ports["smtp"]} {smtpd}
127.0.0.1:{ports["submission"]} {smtpd}
127.0.0.1:{ports["submissions"]} {smtpd}
  -o smtpd_tls_wrappermode=yes
127.0.0.1:{ports["smtp-454"]} {smtpd}
  -o smtpd_tls_chain_files={d}/mismatch.pem
127.0.0.1:{ports["submission-implicit"]} {smtpd}
#  -o syslog_name=postfix/submission
  -o smtpd_tls_wrappermode=yes
127.0.0.1:{ports["submissions-plain"]} {smtpd}
127.0.0.1:{ports["smtp-notls"]} {smtpd}
  -o smtpd_tls_security_level=none
127.0.0.1:{ports["smtp-leaf-only"]} {smtpd}
  -o smtpd_tls_chain_files={d}/key.pem,{d}/leaf-only.pem
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
    (cfg / "master.cf").write_text(master_cf)
    (d / "spool").mkdir()
    # `postfix check` creates the queue directories with their owners; `start` then runs master.
    for command in ("check", "start"):
        run = subprocess.run(["postfix", "-c", str(cfg), command], capture_output=True, text=True, timeout=60)
        log = (d / "postfix.log").read_text() if (d / "postfix.log").exists() else ""
        assert run.returncode == 0, f"postfix {command} failed: {run.stderr}{log}"


def _stop_postfix(d: Path) -> None:
    subprocess.run(
        ["postfix", "-c", str(d / "postfix"), "stop"], capture_output=True, timeout=60, check=False
    )


def _start_dovecot(d: Path, ports: dict[str, int]) -> subprocess.Popen[bytes]:
    base = d / "dovecot-run"
    base.mkdir()
    conf = d / "dovecot.conf"
    conf.write_text(f"""
base_dir = {base}
state_dir = {d}/dovecot-state
log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/dovecot-fullchain.pem
ssl_key = <{d}/dovecot-key.pem
disable_plaintext_auth = yes
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {ports["imap"]}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ports["imaps"]}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {ports["pop3"]}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {ports["pop3s"]}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
    (d / "dovecot-state").mkdir()
    return subprocess.Popen(
        ["dovecot", "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


PORT_NAMES = (
    "smtp",
    "submission",
    "submissions",
    "smtp-454",
    "submission-implicit",
    "submissions-plain",
    "smtp-notls",
    "smtp-leaf-only",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
)


@pytest.fixture(scope="module")
def daemons() -> Iterator[Daemons]:
    # Not pytest's tmp_path: its parents are 0700 and the daemons run as postfix/dovenull.
    d = Path(tempfile.mkdtemp(prefix="mailcert-probe-"))
    d.chmod(0o755)
    pki = TestPKI()
    sha = _write_pki(pki, d)
    ports = {name: free_port() for name in PORT_NAMES}
    _start_postfix(d, ports)
    dovecot = _start_dovecot(d, ports)
    try:
        for name, port in ports.items():
            wait_listening(
                port, name, d / ("dovecot.log" if name.startswith(("imap", "pop3")) else "postfix.log")
            )
        yield Daemons(pki, ports, sha, d)
    finally:
        _stop_postfix(d)
        dovecot.terminate()
        dovecot.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)


# name → (protocol, expected mode) as a client configured for that standard role expects it
ROLES = {
    "smtp": ("smtp", Mode.STARTTLS),
    "submission": ("smtp", Mode.STARTTLS),
    "submissions": ("smtp", Mode.IMPLICIT),
    "imap": ("imap", Mode.STARTTLS),
    "imaps": ("imap", Mode.IMPLICIT),
    "pop3": ("pop3", Mode.STARTTLS),
    "pop3s": ("pop3", Mode.IMPLICIT),
    "smtp-454": ("smtp", Mode.STARTTLS),
    "submission-implicit": ("smtp", Mode.STARTTLS),
    "submissions-plain": ("smtp", Mode.IMPLICIT),
    "smtp-notls": ("smtp", Mode.STARTTLS),
    "smtp-leaf-only": ("smtp", Mode.STARTTLS),
}


@pytest.fixture(scope="module")
def opts(daemons: Daemons) -> CheckOptions:
    return CheckOptions(now=NOW, trust=TrustStore.of([daemons.pki.root.cert]))


@pytest.fixture(scope="module")
def results(daemons: Daemons) -> dict[str, ProbeResult]:
    targets = [
        target_for(HOST, daemons.ports[name], address="127.0.0.1", protocol=protocol, mode=mode)
        for name, (protocol, mode) in ROLES.items()
    ]
    return dict(zip(ROLES, probe_all(targets, timeouts=TIMEOUTS), strict=True))


@pytest.mark.parametrize("name", ["smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"])
def test_healthy_postfix_and_dovecot_probe_clean(
    name: str, results: dict[str, ProbeResult], daemons: Daemons, opts: CheckOptions
) -> None:
    result = results[name]
    assert result.observed.value == ROLES[name][1].value
    assert result.tls_version == "TLSv1.3"
    assert len(result.chain_der) == 2
    assert check_probe(result, opts) == []
    served = check_consistency(results[n] for n in ("smtp", "submission", "submissions", "imaps", "pop3s"))
    assert served == []


def test_postfix_key_mismatch_answers_starttls_with_454(
    results: dict[str, ProbeResult], opts: CheckOptions
) -> None:
    result = results["smtp-454"]
    assert result.observed is Observed.STARTTLS_REFUSED
    assert result.server_reply == "454 4.7.0 TLS not available due to local problem"
    [finding] = check_probe(result, opts)
    assert finding.check == "tls.starttls-unavailable"
    assert "454 4.7.0 TLS not available due to local problem" in finding.message


def test_submission_port_with_wrappermode_speaks_implicit_tls(
    results: dict[str, ProbeResult], daemons: Daemons, opts: CheckOptions
) -> None:
    result = results["submission-implicit"]
    assert result.observed is Observed.IMPLICIT
    [finding] = check_probe(result, opts)
    assert finding.check == "config.mode-mismatch"
    assert finding.message.startswith(f"{daemons.ports['submission-implicit']} speaks implicit TLS")


def test_smtps_port_without_wrappermode_speaks_plaintext_smtp(
    results: dict[str, ProbeResult], daemons: Daemons, opts: CheckOptions
) -> None:
    result = results["submissions-plain"]
    assert result.observed is Observed.STARTTLS
    assert "wrong version number" in (result.error or "")
    [finding] = check_probe(result, opts)
    assert finding.check == "config.mode-mismatch"
    assert finding.message.startswith(f"{daemons.ports['submissions-plain']} speaks plaintext SMTP")


def test_tls_off_means_no_starttls(results: dict[str, ProbeResult], opts: CheckOptions) -> None:
    result = results["smtp-notls"]
    assert result.observed is Observed.PLAINTEXT
    assert "250 CHUNKING" in (result.server_reply or "")
    assert [f.check for f in check_probe(result, opts)] == ["tls.starttls-unavailable"]


def test_leaf_only_chain_is_incomplete(results: dict[str, ProbeResult], opts: CheckOptions) -> None:
    result = results["smtp-leaf-only"]
    assert len(result.chain_der) == 1
    assert [f.check for f in check_probe(result, opts)] == ["cert.chain-incomplete"]


def test_dovecot_renewed_but_not_reloaded_is_stale(daemons: Daemons, opts: CheckOptions) -> None:
    renewed = daemons.pki.leaf([HOST, "127.0.0.1"])
    (daemons.dir / "dovecot-fullchain.pem").write_bytes(daemons.pki.bundle(renewed))
    (daemons.dir / "dovecot-key.pem").write_bytes(renewed.key_pem())
    on_disk = renewed.cert.fingerprint(hashes.SHA256()).hex()
    [result] = probe_all(
        [target_for(HOST, daemons.ports["imaps"], address="127.0.0.1", protocol="imap", mode=Mode.IMPLICIT)],
        timeouts=TIMEOUTS,
    )
    findings = check_probe(result, opts, configured_sha256=on_disk, service="dovecot")
    assert [f.check for f in findings] == ["tls.stale"]
    assert findings[0].service == "dovecot"


def test_cli_probe_json_and_exit_code(daemons: Daemons, capsys: pytest.CaptureFixture[str]) -> None:
    (daemons.dir / "root.pem").write_bytes(daemons.pki.root_pem())
    ports = daemons.ports
    argv = [
        "mailcert",
        "probe",
        f"{HOST}:{ports['smtp']}",
        f"{HOST}:{ports['smtp-454']}",
        "--protocol",
        "smtp",
        "--starttls",
        "--address",
        "127.0.0.1",
        "--ca-bundle",
        str(daemons.dir / "root.pem"),
        "--at",
        "2026-06-01T00:00:00Z",
        "--timeout",
        "2",
        "--format",
        "json",
    ]
    with pytest.raises(SystemExit) as exit_info:
        build_program().run(argv)
    assert exit_info.value.code == 2
    report = json.loads(capsys.readouterr().out)
    [host] = report["hosts"]
    assert host["name"] == HOST
    assert [(e["port"], e["mode"]) for e in host["endpoints"]] == [
        (ports["smtp"], "starttls"),
        (ports["smtp-454"], "starttls"),
    ]
    assert host["endpoints"][0]["served"]["sha256"] == daemons.leaf_sha256
    assert host["endpoints"][0]["served"]["chain_length"] == 2
    assert host["endpoints"][1]["served"] is None
    assert [(f["check"], f["port"]) for f in host["findings"]] == [
        ("tls.starttls-unavailable", ports["smtp-454"])
    ]
