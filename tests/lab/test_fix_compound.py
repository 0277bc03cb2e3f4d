"""`mailcert fix` on messy hosts: every pair of the lab's faults on one host, and hand-made faults (certbot's
archive overwritten through live/, a lineage re-issued by hand with fewer names, secret-bearing settings in
every file fix edits, files edited by hand), planted on one lab host each, then ONE `fix -y` over them all.

Per host, with two TLS stacks (Python's ssl and `openssl s_client`): no (port, name) a client uses is worse
after fix than before; what the plan says a change removes is gone; secret lines are byte-identical; no file
under /etc/postfix, /etc/dovecot, /etc/letsencrypt/renewal changed that the plan does not show; a second
`fix --dry-run` plans nothing.

The hand-made cases run on a Debian 13 host too (same lab, same expectations), written the way a Dovecot 2.4
admin writes them: ssl_server_cert_file/ssl_server_key_file, an `ssl_server { }` block, 2.4's passdb syntax, and
dovecot-file-lt (a `<` on a *_file setting) where Debian 12's case has dovecot-missing-lt.

Pairs left out: expired + name-mismatch. Both are a certbot renewal of the lineage's current version with a
bad certificate; whichever is planted second replaces the first, so the two cannot be on one host at once
(a certificate both expired and for one name is a third fault, not this pair). Every other pair coexists
when planted in PLANT_ORDER (a certificate fault before the key overwrite, the self-signed Dovecot paths
before the missing '<', stale last because it is the one planted without a reload)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mailcert.lab import lifecycle, pebble
from mailcert.lab.certs import HostPKI
from mailcert.lab.faults import FaultSite, fault_named
from mailcert.lab.kinds import DEFAULT_KIND
from mailcert.lab.kinds.dovecot import SSL_CONF, is_24
from mailcert.lab.kinds.postfix import MAIN_CF, MASTER_CF
from mailcert.lab.layout import LabHost, now_utc
from mailcert.lab.pki import LabCA, cert_pem, key_pem, self_signed
from tests.lab.clients import EndpointVerdict, fleet_verdicts
from tests.lab.fixture import Lab, LabManager, own_lab, require_kind
from tests.lab.test_fix_apply import fix_inventory
from tests.lab.test_fix_cli import report_of

MAILCERT = str(Path(sys.executable).parent / "mailcert")
PLANT_ORDER = (
    "expired",
    "name-mismatch",
    "key-mismatch",
    "self-signed",
    "leaf-only",
    "dovecot-missing-lt",
    "wrong-mode-587",
    "wrong-mode-465",
    "no-deploy-hook",
    "stale",
)
CANNOT_COEXIST = {frozenset({"expired", "name-mismatch"})}
PAIRS = [pair for pair in combinations(PLANT_ORDER, 2) if frozenset(pair) not in CANNOT_COEXIST]
# Hand-made cases, each with the catalogue faults planted with it (they make fix edit the hand-made files).
HAND_MADE: dict[str, tuple[str, ...]] = {
    "archive-overwritten-via-live": (),
    "reissued-fewer-names": (),
    "secret-settings": ("leaf-only", "wrong-mode-587", "dovecot-missing-lt"),
    "hand-edited": ("no-deploy-hook",),
}
WATCHED = ("/etc/postfix", "/etc/dovecot", "/etc/letsencrypt/renewal")
FORKS = 16
INCLUDED_SSL = "/etc/dovecot/conf.d/local-tls.include"


# On Debian 13 (Dovecot 2.4) a catalogue fault with a 2.4 counterpart is planted as that counterpart.
ON_DEBIAN13 = {"dovecot-missing-lt": "dovecot-file-lt"}
DEBIAN13 = "@debian13"  # label suffix of a case on a debian13 host


@dataclass(frozen=True)
class Case:
    host: str
    label: str
    faults: tuple[str, ...]  # in PLANT_ORDER's (Debian 12) names
    kind: str = DEFAULT_KIND

    @property
    def hand_made(self) -> str:
        return self.label.removesuffix(DEBIAN13)

    def planted(self) -> list[str]:
        """The case's faults in PLANT_ORDER, as the host's kind names them."""
        ordered = sorted(self.faults, key=PLANT_ORDER.index)
        return [ON_DEBIAN13.get(f, f) for f in ordered] if self.kind == "debian13" else ordered


def cases() -> list[Case]:
    """One host per case. MAILCERT_MATRIX_ONLY=LABEL,LABEL (e.g. `hand-edited,key-mismatch+stale`,
    `secret-settings@debian13`) runs only those, to look into a failure; unset (CI), every case runs."""
    wanted: list[tuple[str, tuple[str, ...], str]] = [("+".join(pair), pair, DEFAULT_KIND) for pair in PAIRS]
    wanted += [(label, faults, DEFAULT_KIND) for label, faults in HAND_MADE.items()]
    wanted += [(label + DEBIAN13, faults, "debian13") for label, faults in HAND_MADE.items()]
    only = {w for w in os.environ.get("MAILCERT_MATRIX_ONLY", "").split(",") if w}
    chosen = [(label, faults, kind) for label, faults, kind in wanted if not only or label in only]
    return [Case(f"mx{i + 1}", label, faults, kind) for i, (label, faults, kind) in enumerate(chosen)]


CASES = cases()


@dataclass
class Matrix:
    lab: Lab
    before: dict[str, dict[tuple[int, str], EndpointVerdict]]
    after: dict[str, dict[tuple[int, str], EndpointVerdict]]
    files_before: dict[str, dict[str, str]]
    files_after: dict[str, dict[str, str]]
    fix: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    again: subprocess.CompletedProcess[str]
    again_report: dict[str, Any]
    secret_lines: dict[str, list[bytes]]  # host path → the secret-bearing lines planted in it
    canary: str
    seconds: dict[str, float]


def mailcert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAILCERT, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=1500, check=False
    )


def watched_files(host: LabHost) -> dict[str, str]:
    """sha256 + mode of every file (and symlink target) under the watched folders, by host path."""
    sums = {}
    for folder in WATCHED:
        root = host.path(folder)
        for path in sorted(root.rglob("*")):
            where = "/" + str(path.relative_to(host.root))
            if path.is_symlink():
                sums[where] = f"-> {path.readlink()}"
            elif path.is_file():
                sums[where] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_mode:o}"
    return sums


# -- hand-made faults ---------------------------------------------------------------------------------------
def no_san_self_signed(name: str) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed([name], key, now_utc(), with_san=False)
    return cert_pem(cert), key_pem(key)


def overwrite_archive_through_live(host: LabHost) -> None:
    """An admin ran `openssl req -x509 ... -out live/NAME/fullchain.pem`: the write follows certbot's symlinks
    into archive/; the daemons (not reloaded) still serve the old certificate."""
    cert, key = no_san_self_signed(host.fqdn)
    live = host.path(f"/etc/letsencrypt/live/{host.lineage}")
    for name, data in (("cert.pem", cert), ("fullchain.pem", cert), ("privkey.pem", key)):
        assert (live / name).is_symlink()
        with open(live / name, "wb") as out:  # follows the symlink, as the shell's `>` does
            out.write(data)


def reissue_with_fewer_names(host: LabHost, pki: HostPKI) -> None:
    """A lineage re-issued by hand for mail. and smtp. only, with a new key; nothing reloaded yet."""
    pki.renew(host, pki.issue(host.hostnames[:2]))


def dovecot_secret_lines(host: LabHost, canary: str) -> list[bytes]:
    """A key password and a static passdb's password, in the host's Dovecot syntax (2.4: the key password in
    an `ssl_server { }` block, the passdb named and its password under `fields`)."""
    if is_24(host):
        return [
            b"ssl_server {",
            f"  key_password = {canary}-dovecot-key".encode(),
            b"}",
            b"passdb static {",
            b"  fields {",
            f"    password = {canary}-passdb".encode(),
            b"  }",
            b"}",
        ]
    return [
        f"ssl_key_password = {canary}-dovecot-key".encode(),
        b"passdb {",
        b"  driver = static",
        f"  args = password={canary}-passdb".encode(),
        b"}",
    ]


def add_secret_settings(host: LabHost, canary: str) -> dict[str, list[bytes]]:
    """Secret-bearing settings in main.cf, master.cf and 10-ssl.conf (each file fix edits for this host's
    faults), returned as the exact lines planted."""
    planted = {
        MAIN_CF: [
            b"smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd",
            f"lmtp_sasl_password_maps = static:relay@mailcert.test:{canary}-main".encode(),
        ],
        MASTER_CF: [f"  -o smtp_sasl_password_maps=static:relayuser:{canary}-master".encode()],
        SSL_CONF: dovecot_secret_lines(host, canary),
    }
    main_cf = host.path(MAIN_CF)
    main_cf.write_bytes(main_cf.read_bytes() + b"\n".join(planted[MAIN_CF]) + b"\n")
    master_cf = host.path(MASTER_CF)
    lines = master_cf.read_bytes().split(b"\n")
    submission = next(i for i, line in enumerate(lines) if line.startswith(b"submission "))
    lines[submission + 1 : submission + 1] = planted[MASTER_CF]
    master_cf.write_bytes(b"\n".join(lines))
    ssl_conf = host.path(SSL_CONF)
    ssl_conf.write_bytes(ssl_conf.read_bytes() + b"\n" + b"\n".join(planted[SSL_CONF]) + b"\n")
    return planted


def edit_main_cf_by_hand(host: LabHost) -> None:
    """Comments, odd spacing and CRLF comment lines around the certificate setting: the leaf-only file set by
    hand in main.cf."""
    main_cf = host.path(MAIN_CF)
    text = main_cf.read_text()
    cert_line = next(line for line in text.split("\n") if line.startswith("smtpd_tls_cert_file = "))
    path = cert_line.split("=", 1)[1].strip().replace("/fullchain.pem", "/cert.pem")
    hand = f"# certificate, set by hand 2026-11-02 (ticket 4711)\r\n#\tdo not touch\r\nsmtpd_tls_cert_file   =   {path}"
    main_cf.write_text(text.replace(cert_line, hand))


def edit_dovecot_by_hand(host: LabHost) -> None:
    """Dovecot's certificate setting moved by hand to an included file (a CRLF comment line above it) with
    the '<' wrong: 2.3's ssl_cert without it; on 2.4 an `ssl_server { cert_file = <... }` block with it."""
    ssl_conf = host.path(SSL_CONF)
    text = ssl_conf.read_text()
    setting = "ssl_server_cert_file = /" if is_24(host) else "ssl_cert = <"
    cert_line = next(line for line in text.split("\n") if line.startswith(setting))
    path = cert_line.split("=", 1)[1].strip().lstrip("<")
    moved = f"ssl_server {{\n  cert_file =  <{path}\n}}" if is_24(host) else f"ssl_cert =  {path}"
    host.path(INCLUDED_SSL).write_text(
        "# local TLS settings (kept out of the package's file)\r\n" + moved + "\n"
    )
    ssl_conf.write_text(text.replace(cert_line, f"#{cert_line}\n!include_try {INCLUDED_SSL}"))


# -- the one run --------------------------------------------------------------------------------------------
def plant_case(lab: Lab, case: Case, pki: HostPKI, canary: str) -> dict[str, list[bytes]]:
    host = lab.host(case.host)
    secret_lines: dict[str, list[bytes]] = {}
    if case.hand_made == "secret-settings":
        secret_lines = add_secret_settings(host, canary)
    if case.hand_made == "hand-edited":
        edit_main_cf_by_hand(host)
        if not is_24(host):
            edit_dovecot_by_hand(host)
    ordered = case.planted()
    reloading = [f for f in ordered if not fault_named(f).on_running_host]
    for name in reloading[:-1]:  # planted on disk; the last one reloads the daemons for all
        fault_named(name).plant(FaultSite(host, pki))
    for name in reloading[-1:] + [f for f in ordered if fault_named(f).on_running_host]:
        lifecycle.plant_fault(lab.dir, case.host, name)
    if case.hand_made == "hand-edited" and is_24(host):
        # Dovecot 2.4 refuses a '<' on a *_file setting: the admin's reload failed, the old config still runs
        edit_dovecot_by_hand(host)
    if case.hand_made == "archive-overwritten-via-live":
        overwrite_archive_through_live(host)
    if case.hand_made == "reissued-fewer-names":
        reissue_with_fewer_names(host, pki)
    return {f"{case.host}:{path}": lines for path, lines in secret_lines.items()}


def client_view(lab: Lab) -> dict[str, dict[tuple[int, str], EndpointVerdict]]:
    hosts = {h.name: (h.address, h.hostnames) for h in lab.hosts}
    return fleet_verdicts(hosts, str(lab.ca_bundle))


@pytest.fixture(scope="module")
def matrix(lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    seconds: dict[str, float] = {}
    start = time.monotonic()
    lab_dir = own_lab(lab_manager, tmp_path_factory.mktemp("compound") / "lab")
    if any(case.kind != DEFAULT_KIND for case in CASES):
        require_kind("debian13")
    up = lifecycle.up(lab_dir, len(CASES), "none", [case.kind for case in CASES], say=lambda _: None)
    try:
        lab = Lab(up.lab_dir, up.hosts)
        seconds["lab up"] = time.monotonic() - start
        pki = HostPKI(ca=LabCA.load(lab.dir / "pki"), now=now_utc(), acme_server=pebble.ACME_DIRECTORY)
        canary = f"canary-{secrets.token_hex(8)}"
        secret_lines: dict[str, list[bytes]] = {}
        mark = time.monotonic()
        for case in CASES:
            secret_lines |= plant_case(lab, case, pki, canary)
        seconds["plant"] = time.monotonic() - mark
        mark = time.monotonic()
        before = client_view(lab)
        seconds["clients before"] = time.monotonic() - mark
        files_before = {h.name: watched_files(h) for h in lab.hosts}
        inventory = str(fix_inventory(lab, tmp_path_factory.mktemp("compound-inventory")))
        mark = time.monotonic()
        fix = mailcert("-I", inventory, "fix", "-y", "--forks", str(FORKS), "--format", "json")
        seconds["fix"] = time.monotonic() - mark
        files_after = {h.name: watched_files(h) for h in lab.hosts}
        mark = time.monotonic()
        after = client_view(lab)
        seconds["clients after"] = time.monotonic() - mark
        mark = time.monotonic()
        again = mailcert("-I", inventory, "fix", "--dry-run", "--forks", str(FORKS), "--format", "json")
        seconds["second dry run"] = time.monotonic() - mark
        seconds["total"] = time.monotonic() - start
        dump = record_run(
            Path(os.environ.get("MAILCERT_MATRIX_RECORD", lab_dir.parent)), before, after, fix, again
        )
        print(f"\ncompound matrix, {len(CASES)} hosts, seconds: {seconds}; record: {dump}", file=sys.stderr)
        yield Matrix(
            lab, before, after, files_before, files_after, fix, report_of(fix), again, report_of(again),
            secret_lines, canary, seconds,
        )  # fmt: skip
    finally:
        lifecycle.down(lab_dir, say=lambda _: None)


def record_run(
    folder: Path,
    before: dict[str, dict[tuple[int, str], EndpointVerdict]],
    after: dict[str, dict[tuple[int, str], EndpointVerdict]],
    *runs: subprocess.CompletedProcess[str],
) -> Path:
    """Both runs' output and every client verdict, kept beside the lab (or in MAILCERT_MATRIX_RECORD) for
    looking into a failure."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, done in enumerate(runs, start=1):
        (folder / f"fix-{number}.stdout").write_text(done.stdout)
        (folder / f"fix-{number}.stderr").write_text(done.stderr)
    table = {
        f"{host} {port} {name}": {"before": str(before[host][key]), "after": str(after[host][key])}
        for host in before
        for key in before[host]
        for port, name in [key]
    }
    (folder / "verdicts.json").write_text(json.dumps(table, indent=1))
    return folder


def entries(report: dict[str, Any], host: str) -> list[dict[str, Any]]:
    return [e for e in report.get("plan", []) if e["host"] == host]


def findings(report: dict[str, Any], host: str) -> list[dict[str, Any]]:
    return next((h["findings"] for h in report.get("hosts", []) if h["name"] == host), [])


def label(finding: dict[str, Any]) -> str:
    """A finding as a plan's `removes` names it: `check service:port`."""
    where = finding.get("service") or ""
    if finding.get("port") is not None:
        where += f":{finding['port']}"
    return f"{finding['check']} {where}".strip()


BY_CASE = pytest.mark.parametrize("case", CASES, ids=[f"{c.host}:{c.label}" for c in CASES])


# -- per host -----------------------------------------------------------------------------------------------
def test_the_fix_run_finished_with_an_exit_code_of_the_contract(matrix: Matrix) -> None:
    assert matrix.fix.returncode in (0, 1, 2), matrix.fix.stderr[-3000:]
    assert "Traceback" not in matrix.fix.stderr, matrix.fix.stderr[-3000:]
    assert matrix.report.get("plan"), matrix.report.get("unreadable")


@BY_CASE
def test_no_client_verdict_is_worse_after_fix(matrix: Matrix, case: Case) -> None:
    before, after = matrix.before[case.host], matrix.after[case.host]
    worse = {
        f"{port} {name}": lost
        for (port, name), verdict in sorted(after.items())
        if (lost := verdict.worse_than(before[(port, name)]))
    }
    assert worse == {}, f"{case.label}: verified before fix, not after"


@BY_CASE
def test_every_planned_change_is_applied(matrix: Matrix, case: Case) -> None:
    planned = [e for e in entries(matrix.report, case.host) if e["kind"] != "unfixable"]
    assert planned, f"{case.label}: fix planned nothing"
    failed = [(e["kind"], e["description"], e["outcome"], e.get("error")) for e in planned]
    assert [f for f in failed if f[2] != "applied"] == []


@BY_CASE
def test_what_the_plan_removes_is_gone_after_fix(matrix: Matrix, case: Case) -> None:
    promised = {
        removed
        for e in entries(matrix.report, case.host)
        if e["outcome"] == "applied"
        for removed in e.get("removes", [])
    }
    still = {label(f) for f in findings(matrix.again_report, case.host)} & promised
    assert promised, f"{case.label}: no applied change says what it removes"
    assert still == set()


@BY_CASE
def test_every_endpoint_a_client_uses_verifies_after_fix(matrix: Matrix, case: Case) -> None:
    failing = {
        f"{port} {name}": f"python: {v.python.reason}; openssl: {v.openssl.reason}"
        for (port, name), v in sorted(matrix.after[case.host].items())
        if not v.verified
    }
    assert failing == {}


@BY_CASE
def test_no_file_changed_that_the_plan_does_not_show(matrix: Matrix, case: Case) -> None:
    before, after = matrix.files_before[case.host], matrix.files_after[case.host]
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    plan = entries(matrix.report, case.host)
    shown = {e["path"] for e in plan if e.get("path")}
    lineage = matrix.lab.host(case.host).lineage
    if any(e["kind"] == "issue" for e in plan):  # certbot rewrites the lineage's renewal file
        shown.add(f"/etc/letsencrypt/renewal/{lineage}.conf")
    assert changed - shown == set()


@BY_CASE
def test_a_second_dry_run_plans_nothing(matrix: Matrix, case: Case) -> None:
    again = [
        (e["kind"], e["description"])
        for e in entries(matrix.again_report, case.host)
        if e["kind"] != "unfixable"
    ]
    assert again == []


@pytest.mark.parametrize("path", [MAIN_CF, MASTER_CF, SSL_CONF])
def test_secret_lines_are_byte_identical_after_fix(matrix: Matrix, path: str) -> None:
    planted = [(w, lines) for w, lines in matrix.secret_lines.items() if w.endswith(":" + path)]
    assert len(planted) == len([c for c in CASES if c.hand_made == "secret-settings"])  # Debian 12 and 13
    changed = {}
    for where, lines in planted:
        host = where.split(":", 1)[0]
        now = matrix.lab.host(host).path(path).read_bytes()
        names = {line.split(b"=")[0].strip() for line in lines if b"=" in line}
        if b"\n".join(lines) not in now:  # one block, as planted
            changed[where] = [line for line in now.split(b"\n") if line.split(b"=")[0].strip() in names]
    assert changed == {}, "secret lines changed; the files now have these"


def test_secret_values_are_never_shown(matrix: Matrix) -> None:
    assert matrix.secret_lines, "the secret-settings host was not planted"
    for done in (matrix.fix, matrix.again):
        assert matrix.canary not in done.stdout + done.stderr
