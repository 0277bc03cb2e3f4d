"""Lint of a large host tree: 1,000 certificates behind 200 Dovecot config files plus Postfix.

Prints wall time of the whole `mailcert lint` run (in-process and as a fresh CLI process) and per
certificate. Target (issue 23): at most 1.0 s on the 2-core machine.
"""

from __future__ import annotations

import json
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERTS = 1000
CONFIG_FILES = 199  # plus dovecot.conf: 200 Dovecot files, the most a service may include (include_scope)
TARGET_S = 1.0
_CHECKOUT = f"{Path(__file__).resolve().parent.parent}/"  # shown relative to it in the profile


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def build_tree(root: Path) -> Path:
    """A host tree; returns the CA bundle that trusts it."""
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Bench Root"))
        .issuer_name(_name("Bench Root"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    bundle = root.parent / "bench-ca.pem"
    bundle.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    key = ec.generate_private_key(ec.SECP256R1())  # one key for all leaves: generation is not what we measure
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    conf_d = root / "etc/dovecot/conf.d"
    conf_d.mkdir(parents=True)
    (root / "etc/dovecot/dovecot.conf").write_text(
        "protocols = imap pop3\nssl = yes\nssl_cert = </etc/ssl/mail/d0.pem\nssl_key = </etc/ssl/mail/key.pem\n"
        "!include conf.d/*.conf\n"
    )
    certs_dir = root / "etc/ssl/mail"
    certs_dir.mkdir(parents=True)
    (certs_dir / "key.pem").write_bytes(key_pem)
    (certs_dir / "key.pem").chmod(0o600)
    for i in range(CERTS):
        name = f"mail.d{i}.bench.test"
        leaf = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(1000 + i)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        (certs_dir / f"d{i}.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    for f in range(CONFIG_FILES):
        blocks = [
            f"local_name mail.d{i}.bench.test {{\n  ssl_cert = </etc/ssl/mail/d{i}.pem\n  ssl_key = </etc/ssl/mail/key.pem\n}}\n"
            for i in range(f * CERTS // CONFIG_FILES, (f + 1) * CERTS // CONFIG_FILES)
        ]
        (conf_d / f"{f:03d}-sni.conf").write_text("# SNI certificates\n" + "".join(blocks))
    postfix = root / "etc/postfix"
    postfix.mkdir(parents=True)
    (postfix / "main.cf").write_text(
        "myhostname = mail.d0.bench.test\nsmtpd_tls_cert_file = /etc/ssl/mail/d0.pem\n"
        "smtpd_tls_key_file = /etc/ssl/mail/key.pem\nsmtpd_tls_security_level = may\n"
    )
    (postfix / "master.cf").write_text("smtp      inet  n       -       y       -       -       smtpd\n")
    return bundle


def section(quick: bool = False) -> tuple[str, dict[str, Any]]:
    """(Markdown, JSON-able data); quick: one run instead of three (same tree size)."""
    runs_wanted = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "host"
        root.mkdir()
        bundle = build_tree(root)
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "mailcert", "lint", str(root), "--ca-bundle", str(bundle)]
        cmd += ["--format", "json", "--output", str(report)]
        runs = []
        for _ in range(runs_wanted):
            report.unlink(missing_ok=True)
            started = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            runs.append(time.perf_counter() - started)
            if done.returncode not in (0, 1, 2) or not report.is_file():
                raise RuntimeError(f"mailcert lint failed (exit {done.returncode}): {done.stderr.strip()}")
        kinds = Counter(
            f"{f['check']} ({f.get('service')}:{f.get('port')})"
            for h in json.loads(report.read_text()).get("hosts", [])
            for f in h.get("findings", [])
        )
        findings = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common()) or "none"
        median = statistics.median(runs)
        profile = where_time_goes(cmd, Path(tmp)) if median > TARGET_S else []
    data: dict[str, Any] = {
        "quick": quick,
        "certificates": CERTS,
        "config_files": CONFIG_FILES + 1,
        "runs_s": [round(r, 3) for r in runs],
        "median_s": round(median, 3),
        "per_certificate_ms": round(median / CERTS * 1000, 3),
        "findings": findings,
        "target_s": TARGET_S,
        "target_met": median <= TARGET_S,
        "profile_top_self_time": profile,
    }
    text = "\n".join(
        [
            f"## lint: {CERTS:,} certificates, {CONFIG_FILES + 1} Dovecot config files (SNI) + Postfix",
            "",
            "| runs | median wall (fresh process) | per certificate | findings | target |",
            "|---|---|---|---|---|",
            f"| {len(runs)} | {median:.2f} s | {median / CERTS * 1000:.2f} ms | {findings} | "
            f"≤ {TARGET_S:.1f} s ({'met' if median <= TARGET_S else 'MISSED'}) |",
            "",
            "The run includes writing the JSON report. Postfix's certificate names mail.d0 only; without "
            "`--hostname`, lint takes every name the configuration advertises (here the Dovecot `local_name`s "
            "too) as a name clients use, hence a `cert.name-mismatch` on port 25 for each other domain.",
        ]
    )
    if profile:
        text += (
            "\n\nTarget missed; where the time goes (one run under cProfile, which slows it down; functions with "
            "the most self time):\n\n| function | self time | calls |\n|---|---|---|\n"
            + "\n".join(f"| `{_cell(f)}` | {t:.2f} s | {n:,} |" for f, t, n in profile)
        )
    return text + "\n", data


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def where_time_goes(cmd: list[str], tmp: Path, top: int = 8) -> list[tuple[str, float, int]]:
    """Run the same lint once under cProfile; the functions with the most self time."""
    stats_file = tmp / "lint.prof"
    argv = [cmd[0], "-m", "cProfile", "-o", str(stats_file), *cmd[1:]]
    subprocess.run(argv, capture_output=True, text=True, check=False)
    if not stats_file.is_file():
        return []
    stats = pstats.Stats(str(stats_file))
    rows = []
    for (filename, line, func), (_cc, calls, self_time, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", filename).split(_CHECKOUT)[-1]
        rows.append((f"{where}:{line}({func})", self_time, calls))
    rows.sort(key=lambda row: -row[1])
    return [(name, round(t, 3), n) for name, t, n in rows[:top]]


def main(quick: bool = False) -> None:
    print(section(quick)[0])
