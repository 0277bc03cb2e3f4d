"""The peer tools the probe benchmark measures mailcert against: how each is called on one lab endpoint and
how its output is read into the problems it reported.

Every peer is told to trust the lab's CA bundle, connects to the lab address (no DNS lookup of the lab
names) and presents the service name as SNI. What each parser maps, and only that, counts as "reported";
anything else the tool says is kept as `other` and never counted as finding a planted fault.

Problem categories (what a planted fault should produce, see EXPECTED):
  expired, name-mismatch, incomplete-chain (intermediate not served), self-signed,
  untrusted (the tool says only that the chain does not verify; it cannot tell why),
  no-tls (connection, STARTTLS or handshake failed).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

EXPIRED = "expired"
NAME_MISMATCH = "name-mismatch"
INCOMPLETE_CHAIN = "incomplete-chain"
SELF_SIGNED = "self-signed"
UNTRUSTED = "untrusted"
NO_TLS = "no-tls"
CATEGORIES = (EXPIRED, NAME_MISMATCH, INCOMPLETE_CHAIN, SELF_SIGNED, UNTRUSTED, NO_TLS)

# Planted fault (mailcert/lab/faults.py) → the category that names it exactly.
EXPECTED = {
    "expired": EXPIRED,
    "name-mismatch": NAME_MISMATCH,
    "leaf-only": INCOMPLETE_CHAIN,
    "self-signed": SELF_SIGNED,
}
# A report of `untrusted` on these faults is a hit without the reason (the tool could not tell why).
VAGUE_OK = {"leaf-only", "self-signed"}

SSLYZE_VENV = Path("/var/lib/mailcert-bench/sslyze-venv")
CHECK_SSL_CERT = Path("/usr/lib/nagios/plugins/check_ssl_cert")


@dataclass(frozen=True)
class Endpoint:
    host: str
    address: str
    port: int
    name: str  # the name clients use: SNI and the name to verify
    protocol: str  # smtp | imap | pop3
    starttls: bool
    fault: str | None  # the planted fault that shows on this port, None when the endpoint is healthy

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Verdict:
    problems: frozenset[str]
    other: tuple[str, ...] = ()  # what else the tool complained about (not counted)
    said: str = ""  # the tool's own words, one short line


@dataclass(frozen=True)
class Peer:
    name: str
    argv: Callable[[Endpoint, Path, Path], list[str]]  # (endpoint, ca bundle, scratch file) → command
    parse: Callable[[str, str, int, str], Verdict]  # (stdout, stderr, exit code, scratch file text)
    version: Callable[[], str]
    binary: Path | str
    no_dns: bool = True  # run with a resolv.conf pointing at loopback (see without_dns)

    def available(self) -> bool:
        return Path(self.binary).is_file() or shutil.which(str(self.binary)) is not None


NO_DNS_RESOLV = "nameserver 127.0.0.1\n"


def without_dns(argv: list[str], resolv_conf: Path) -> list[str]:
    """argv in a private mount namespace whose /etc/resolv.conf is `resolv_conf` (NO_DNS_RESOLV): every DNS
    query the tool makes goes to loopback and fails there. testssl.sh 3.0.8 probes the local openssl at
    start with `openssl s_client -connect invalid.` (30 lookups of `invalid.` per run, seen with strace)
    even under --nodns none; the lab rule is no traffic outside lab and loopback. Needs root."""
    script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(resolv_conf), *argv]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def _run_version(argv: list[str], pattern: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else "unknown"


# ---------------------------------------------------------------- openssl s_client (the floor)

# OpenSSL 3 verify error strings (X509_verify_cert_error_string) → category.
OPENSSL_ERRORS = {
    "certificate has expired": EXPIRED,
    "hostname mismatch": NAME_MISMATCH,
    "self-signed certificate": SELF_SIGNED,
    "self signed certificate": SELF_SIGNED,  # OpenSSL 1.1 spelling
    "unable to get local issuer certificate": UNTRUSTED,  # missing intermediate or unknown root: cannot tell
    "unable to verify the first certificate": UNTRUSTED,
    "unable to get issuer certificate": UNTRUSTED,
    "self-signed certificate in certificate chain": UNTRUSTED,
    "self signed certificate in certificate chain": UNTRUSTED,
}


def openssl_argv(ep: Endpoint, bundle: Path, _scratch: Path) -> list[str]:
    argv = ["openssl", "s_client", "-connect", f"{ep.address}:{ep.port}", "-servername", ep.name]
    argv += ["-CAfile", str(bundle), "-verify_hostname", ep.name, "-brief"]
    return argv + (["-starttls", ep.protocol] if ep.starttls else [])


def parse_openssl(stdout: str, stderr: str, code: int, _scratch: str) -> Verdict:
    """s_client's verify callback prints `verify error:num=N:<reason>` for every error it meets (the
    handshake goes on), and `-brief` ends with `Verification: OK` or `Verification error: <reason>` (the
    last one). Without `CONNECTION ESTABLISHED` there was no handshake."""
    text = stdout + "\n" + stderr
    if "CONNECTION ESTABLISHED" not in text:
        return Verdict(frozenset({NO_TLS}), said=_first_line(stderr) or f"exit {code}")
    reasons = re.findall(r"^verify error:num=\d+:(.+)$", text, re.MULTILINE)
    final = re.search(r"^Verification error: (.+)$", text, re.MULTILINE)
    if final is not None:
        reasons.append(final.group(1))
    problems: set[str] = set()
    other: list[str] = []
    for reason in dict.fromkeys(r.strip() for r in reasons):
        if reason in OPENSSL_ERRORS:
            problems.add(OPENSSL_ERRORS[reason])
        else:
            other.append(reason)
    if final is None:
        ok = re.search(r"^Verification: OK$", text, re.MULTILINE)
        said = "Verification: OK" if ok else "no verification line"
    else:
        said = final.group(0)
    return Verdict(frozenset(problems), other=tuple(other), said=said)


def openssl_version() -> str:
    return _run_version(["openssl", "version"], r"OpenSSL (\S+)")


# ---------------------------------------------------------------- check_ssl_cert (monitoring-plugins-contrib)

# Its CRITICAL texts (check_ssl_cert 2.60), first match wins per message part.
CHECK_SSL_CERT_PATTERNS = (
    (re.compile(r"is expired|has expired"), EXPIRED),
    (re.compile(r"does(?: not|n't) match|not (?:matching|valid for)"), NAME_MISMATCH),
    (re.compile(r"self[- ]signed", re.IGNORECASE), SELF_SIGNED),
    (re.compile(r"unable to (?:get local issuer|verify the first|get issuer)"), UNTRUSTED),
    (re.compile(r"[Cc]ertificate chain.*(?:incomplete|missing)|incomplete chain"), INCOMPLETE_CHAIN),
    (
        re.compile(
            r"[Cc]annot connect|[Nn]o certificate returned|[Cc]onnection refused|[Hh]andshake|TLS not available|timed out"
        ),
        NO_TLS,
    ),
)


def check_ssl_cert_argv(ep: Endpoint, bundle: Path, _scratch: Path) -> list[str]:
    """-H the lab address (no DNS lookup), --sni and -m the client's name; the plugin's -P names the
    STARTTLS dialogue (smtp, imap, pop3) or the implicit-TLS protocol (smtps, imaps, pop3s). SCT and
    OCSP checks are off: the lab CA is private and publishes no OCSP responder (not a planted fault)."""
    protocol = ep.protocol if ep.starttls else f"{ep.protocol}s"
    return [
        str(CHECK_SSL_CERT),
        *("-H", ep.address, "--sni", ep.name, "-m", ep.name, "-p", str(ep.port), "-P", protocol),
        *("--rootcert-file", str(bundle), "--ignore-sct", "--ignore-ocsp", "-t", "30"),
    ]


def parse_check_ssl_cert(stdout: str, stderr: str, code: int, _scratch: str) -> Verdict:
    """A Nagios plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, one status line (performance data
    after `|`). Problems are read from that line's text."""
    status = " ".join((stdout.strip() or stderr.strip()).split("|", 1)[0].split())
    if code == 0:
        return Verdict(frozenset(), said=status)
    problems: set[str] = set()
    other: list[str] = []
    for part in re.split(r", (?=x509|[A-Z])|; ", status.split(":", 2)[-1] if ":" in status else status):
        for pattern, category in CHECK_SSL_CERT_PATTERNS:
            if pattern.search(part):
                problems.add(category)
                break
        else:
            other.append(part.strip())
    return Verdict(frozenset(problems), other=tuple(o for o in other if o), said=status.strip())


def check_ssl_cert_version() -> str:
    return _run_version([str(CHECK_SSL_CERT), "--version"], r"version (\S+)")


# ---------------------------------------------------------------- testssl.sh (certificate checks only)


def testssl_argv(ep: Endpoint, bundle: Path, scratch: Path) -> list[str]:
    """`-S` (server defaults: the certificate checks, with the handshake they need), --add-ca the lab CA,
    --ip the lab address with --nodns none (no DNS lookups at all), flat JSON to the scratch file."""
    argv = ["testssl", "--quiet", "--warnings", "off", "--color", "0", "-S", "--add-ca", str(bundle)]
    argv += ["--ip", ep.address, "--nodns", "none", "--jsonfile", str(scratch)]
    if ep.starttls:
        argv += ["-t", ep.protocol]
    return [*argv, f"{ep.name}:{ep.port}"]


# testssl 3.0 flat-JSON ids it uses for what we look for; severity OK/INFO means "no problem".
_TESTSSL_GOOD = {"OK", "INFO"}


def parse_testssl(stdout: str, stderr: str, code: int, scratch: str) -> Verdict:
    """testssl's flat JSON: one object per finding (id, severity, finding). cert_expirationStatus,
    cert_trust (name vs SNI), cert_chain_of_trust (against every store including --add-ca) and
    scanProblem / service errors are read; the rest of `-S` (ciphers, revocation URLs, ...) is `other`."""
    try:
        findings = json.loads(scratch) if scratch.strip() else []
    except json.JSONDecodeError:
        return Verdict(frozenset({NO_TLS}), said=f"no JSON (exit {code}): {_first_line(stdout)}")
    problems: set[str] = set()
    other: list[str] = []
    said: list[str] = []
    for item in findings:
        ident, severity, text = item.get("id", ""), item.get("severity", ""), item.get("finding", "")
        if ident.startswith("cert_") and ident.split(" ")[0] in ("cert_expirationStatus", "cert_notAfter"):
            if severity not in _TESTSSL_GOOD and "expired" in text.lower():
                problems.add(EXPIRED)
                said.append(f"{ident}: {text}")
        elif ident.split(" ")[0] == "cert_trust":
            if severity not in _TESTSSL_GOOD:
                problems.add(NAME_MISMATCH)
                said.append(f"{ident}: {text}")
        elif ident.split(" ")[0] == "cert_chain_of_trust":
            if severity not in _TESTSSL_GOOD:
                lowered = text.lower()
                if "self signed" in lowered or "self-signed" in lowered:
                    problems.add(SELF_SIGNED if "chain" not in lowered else UNTRUSTED)
                elif "expired" in lowered:
                    problems.add(EXPIRED)
                elif "chain incomplete" in lowered or "incomplete" in lowered:
                    problems.add(INCOMPLETE_CHAIN)
                else:
                    problems.add(UNTRUSTED)
                said.append(f"{ident}: {text}")
        elif ident in ("scanProblem", "service") and severity in ("FATAL", "CRITICAL", "HIGH", "WARN"):
            if ident == "scanProblem" or "not" in text.lower():
                problems.add(NO_TLS)
                said.append(f"{ident}: {text}")
        elif severity not in _TESTSSL_GOOD and ident != "engine_problem":
            other.append(f"{ident} {severity}: {text}")
    if not findings:
        problems.add(NO_TLS)
        said.append(f"no findings (exit {code})")
    return Verdict(frozenset(problems), other=tuple(other), said="; ".join(said) or "no certificate problem")


def testssl_version() -> str:
    return _run_version(["testssl", "--version"], r"testssl\S*\s+(\d[\w.+-]*)")


# ---------------------------------------------------------------- sslyze 6 (own venv)


def sslyze_argv(ep: Endpoint, bundle: Path, scratch: Path) -> list[str]:
    """--certinfo only, --certinfo_ca_file the lab CA; target NAME:PORT{ADDRESS} connects to the address and
    sends NAME as SNI; JSON to the scratch file."""
    argv = [str(SSLYZE_VENV / "bin/sslyze"), "--quiet", "--certinfo", "--certinfo_ca_file", str(bundle)]
    argv += ["--json_out", str(scratch)]
    if ep.starttls:
        argv += ["--starttls", ep.protocol]
    return [*argv, f"{ep.name}:{ep.port}{{{ep.address}}}"]


SUPPLIED_STORE = "Supplied CA file"


def _sslyze_reason(error: str) -> str:
    lowered = error.lower()
    if "expired" in lowered or "not valid at validation time" in lowered:
        return EXPIRED  # cryptography's verifier: the validity period does not cover now
    if "subjectaltname" in lowered or "hostname" in lowered or "name mismatch" in lowered:
        return NAME_MISMATCH
    if "self-signed" in lowered or "self signed" in lowered:
        return SELF_SIGNED
    return UNTRUSTED


def parse_sslyze(stdout: str, stderr: str, code: int, scratch: str) -> Verdict:
    """sslyze's JSON: connectivity_status, then certinfo's certificate_deployments; per deployment the
    path validation against each trust store. Only the supplied store (the lab CA) counts: the public
    stores cannot know the lab's root. sslyze 6 validates with cryptography's verifier, which checks the
    name (SNI) and validity period as part of path building."""
    try:
        data = json.loads(scratch)
        server = data["server_scan_results"][0]
    except (json.JSONDecodeError, KeyError, IndexError):
        return Verdict(frozenset({NO_TLS}), said=f"no JSON (exit {code}): {_first_line(stderr)}")
    if server.get("connectivity_status") != "COMPLETED":
        trace = str(server.get("connectivity_error_trace") or "")  # a Python traceback, as text
        lines = [line.strip() for line in trace.splitlines() if line.strip()]
        return Verdict(
            frozenset({NO_TLS}), said=lines[-1] if lines else str(server.get("connectivity_status"))
        )
    attempt = (server.get("scan_result") or {}).get("certificate_info") or {}
    if attempt.get("status") != "COMPLETED":
        return Verdict(frozenset({NO_TLS}), said=str(attempt.get("error_reason") or attempt.get("status")))
    problems: set[str] = set()
    said: list[str] = []
    for deployment in attempt["result"]["certificate_deployments"]:
        for validation in deployment["path_validation_results"]:
            if validation["trust_store"]["name"] != SUPPLIED_STORE or validation["was_validation_successful"]:
                continue
            error = str(validation.get("validation_error") or "")
            problems.add(_sslyze_reason(error))
            said.append(error)
        if deployment.get("leaf_certificate_subject_matches_hostname") is False:
            problems.add(NAME_MISMATCH)
            said.append("leaf does not match hostname")
    return Verdict(frozenset(problems), said="; ".join(said) or "validated with the supplied CA file")


def sslyze_version() -> str:
    return _run_version([str(SSLYZE_VENV / "bin/python"), "-m", "sslyze", "--help"], r"SSLyze version (\S+)")


PEERS: tuple[Peer, ...] = (
    # openssl connects to the address it is given and looks nothing up (strace): timed bare, as the floor.
    Peer("openssl s_client", openssl_argv, parse_openssl, openssl_version, "openssl", no_dns=False),
    Peer("check_ssl_cert", check_ssl_cert_argv, parse_check_ssl_cert, check_ssl_cert_version, CHECK_SSL_CERT),
    Peer("testssl.sh", testssl_argv, parse_testssl, testssl_version, "testssl"),
    Peer("sslyze", sslyze_argv, parse_sslyze, sslyze_version, SSLYZE_VENV / "bin/sslyze"),
)


# ---------------------------------------------------------------- mailcert's own findings

MAILCERT_CHECKS = {
    "cert.expired": EXPIRED,
    "cert.name-mismatch": NAME_MISMATCH,
    "cert.chain-incomplete": INCOMPLETE_CHAIN,
    "cert.self-signed": SELF_SIGNED,
    "cert.untrusted": UNTRUSTED,
    "tls.unreachable": NO_TLS,
    "tls.starttls-unavailable": NO_TLS,
    "tls.handshake-failed": NO_TLS,
}


def mailcert_verdict(check_ids: list[str]) -> Verdict:
    problems = {MAILCERT_CHECKS[c] for c in check_ids if c in MAILCERT_CHECKS}
    other = tuple(sorted({c for c in check_ids if c not in MAILCERT_CHECKS}))
    return Verdict(frozenset(problems), other=other, said=", ".join(sorted(set(check_ids))) or "no findings")


def score(fault: str | None, verdict: Verdict) -> str:
    """How a verdict on one endpoint compares with what was planted there:
    `hit` (the exact problem), `vague` (only "untrusted" where the fault breaks the chain), `other` (a
    problem reported, but not the planted one), `miss` (nothing reported), `false-alarm` (a problem
    reported on a healthy endpoint), `clean` (healthy and nothing reported)."""
    if fault is None:
        return "false-alarm" if verdict.problems else "clean"
    if EXPECTED[fault] in verdict.problems:
        return "hit"
    if fault in VAGUE_OK and UNTRUSTED in verdict.problems:
        return "vague"
    return "other" if verdict.problems else "miss"
