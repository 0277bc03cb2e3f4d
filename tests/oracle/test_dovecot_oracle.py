"""The Dovecot parser against the real `doveconf` (2.3.19 here): every corpus tree in tests/data/dovecot.

For each tree, doveconf reads a copy of it with `-c ROOT/etc/dovecot/dovecot.conf` (its absolute includes
rewritten into the copy, so the system's files play no part), and our parser reads
the same tree through LocalRoot. Compared: `doveconf -nP` (the modelled settings), `doveconf -f … -h`
for every modelled setting per protocol, per local_name, per local/remote address, listener ports and
TLS mode, the fatal errors and the warnings doveconf prints. doveconf never opens `<` files without -x,
so the certificate paths need not exist.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from mailcert.hostfs import LocalRoot
from mailcert.model import Mode
from mailcert.redaction import redact_line, redact_text
from mailcert.services.dovecot.config import LOGIN_SERVICES, DovecotConfig, load_dovecot_config
from mailcert.services.dovecot.filters import FilterConflictError
from mailcert.services.dovecot.parser import enabled_protocols, parse_dovecot
from tests.doveconf_tree import Doveconf, fatal, materialise

pytestmark = pytest.mark.oracle

CORPUS = Path(__file__).resolve().parents[1] / "data" / "dovecot"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
# Corpus trees doveconf refuses, written down by hand (test_doveconf_refuses_exactly_these checks the lists
# against doveconf): with a fatal error nothing can be looked up; with a filter conflict `doveconf -n`
# fails while single lookups outside the conflict still answer.
FATAL_CASES = {"brace-one-line", "extra-brace", "missing-include", "typo-unknown", "unbalanced"}
CONFLICT_CASES = {"conflict-nested", "protocol-filters"}
KEYS = [
    "ssl",
    "ssl_cert",
    "ssl_key",
    "ssl_ca",
    "ssl_alt_cert",
    "ssl_alt_key",
    "ssl_min_protocol",
    "ssl_verify_client_cert",
    "ssl_key_password",
    "ssl_prefer_server_ciphers",
    "ssl_cipher_list",
    "ssl_dh",
    "disable_plaintext_auth",
    "protocols",
]
MODELLED = set(KEYS)
EXTRA_QUERIES: list[dict[str, str]] = [
    {"local": "192.0.2.10"},
    {"local": "192.0.2.11", "protocol": "imap"},
    {"local": "192.0.2.10", "local_name": "mail.example.org"},
    {"local": "192.0.2.10", "local_name": "mail.example.org", "protocol": "imap"},
    {"remote": "198.51.100.7"},
    {"remote": "198.51.100.7", "protocol": "pop3"},
    {"local": "2001:db8::1"},
]

if shutil.which("doveconf") is None:
    if os.geteuid() != 0:
        pytest.skip("doveconf is not installed and we are not root to install it", allow_module_level=True)
    pytest.fail("doveconf is missing: run scripts/install-system-deps (dovecot-imapd, dovecot-pop3d)")


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_dash_n(text: str) -> dict[tuple[str, ...], dict[str, str]]:
    """doveconf -nP output → {nesting: {key: value}}, modelled settings and listener port/ssl only."""
    out: dict[tuple[str, ...], dict[str, str]] = {}
    stack: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "}":
            stack.pop()
            continue
        if line.endswith("{"):
            stack.append(line[:-1].strip())
            continue
        match = re.match(r"^(\S+) =\s?(.*)$", raw.lstrip())
        assert match, raw
        key, value = match.group(1), unquote(match.group(2))
        keep = key in ("port", "ssl") if stack and stack[-1].startswith("inet_listener ") else key in MODELLED
        if keep:
            out.setdefault(tuple(stack), {})[key] = value
    return out


def lookup_args(query: dict[str, str]) -> list[str]:
    flags = {"local_name": "lname", "local": "local", "remote": "remote", "protocol": "protocol"}
    args: list[str] = []
    for key, value in query.items():
        args += ["-f", f"{flags[key]}={value}"]
    return args


def queries(config: DovecotConfig) -> list[dict[str, str]]:
    names: list[str] = []
    for flt in config.filters:
        for name in flt.names:
            names += [name, name.replace("*", "x")] if "*" in name else [name]
    names.append("unknown.example")
    out: list[dict[str, str]] = [{}]
    out += [{"protocol": p} for p in ("imap", "pop3", "submission")]
    for name in dict.fromkeys(names):
        out += [
            {"local_name": name},
            {"local_name": name, "protocol": "imap"},
            {"local_name": name, "protocol": "pop3"},
        ]
    if any(f.local or f.remote for f in config.filters):
        out += EXTRA_QUERIES
    return out


_CONFLICT = re.compile(r"Conflict in setting (\S+) found from filter at (\S+):(\d+)")


def assert_same_fatal(config: DovecotConfig, doveconf: Doveconf, stderr: str) -> None:
    error = fatal(doveconf, stderr)
    assert error is not None, stderr
    file, line, message = error
    conflict = _CONFLICT.search(message)
    if conflict:
        key, _, filter_line = conflict.groups()
        mine = [(c.key, c.later.location.line if c.later.location else None) for c in config.conflicts()]
        assert (key, int(filter_line)) in mine, (message, mine)
        return
    mine_at = [(p.file, p.line) for p in config.problems if p.refused]
    assert (file, line) in mine_at, (message, config.problems)


@pytest.fixture(scope="module", params=CASES)
def case(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, Doveconf]:
    name: str = request.param
    tmp = tmp_path_factory.mktemp(name)
    root = materialise(CORPUS, name, tmp / "root")
    return name, root, Doveconf(root, tmp / "doveconf")


def test_dash_n_and_fatal_errors(case: tuple[str, Path, Doveconf]) -> None:
    _, root, doveconf = case
    config = load_dovecot_config(LocalRoot(root))
    result = doveconf.run("-nP")
    if result.returncode != 0:
        assert_same_fatal(config, doveconf, result.stderr)
        return
    assert not [p for p in config.problems if p.refused], "doveconf accepts the config"
    assert not config.conflicts()
    # mailcert reads the files through the host's redaction rule, as audit receives them: doveconf's
    # output is compared through the same rule (ssl_key_password = (hidden-by-mailcert) on both sides)
    assert config.non_default() == parse_dash_n(redact_text(result.stdout))


def test_warnings(case: tuple[str, Path, Doveconf]) -> None:
    _, root, doveconf = case
    config = load_dovecot_config(LocalRoot(root))
    result = doveconf.run("-n")
    theirs: set[tuple[str, str, int]] = set()
    for line in result.stderr.splitlines():
        if found := re.search(r"Warning: (\S+) line (\d+): Global setting", line):
            theirs.add(("global-after-filter", doveconf.host_path(found.group(1)), int(found.group(2))))
        elif found := re.search(r"Obsolete setting in (\S+):(\d+)", line):
            theirs.add(("obsolete", doveconf.host_path(found.group(1)), int(found.group(2))))
        elif found := re.search(r"Configuration file (\S+) line (\d+): Ambiguous '#'", line):
            theirs.add(("ambiguous", doveconf.host_path(found.group(1)), int(found.group(2))))
    if fatal(doveconf, result.stderr):
        theirs = {t for t in theirs if t[0] != "global-after-filter"}  # doveconf stopped early
    ours = {
        ("global-after-filter", o.later.location.file, o.later.location.line or 0)
        for o in config.overrides
        if o.global_after_filter
    }
    ours |= {
        ("obsolete", p.file or "", p.line or 0) for p in config.problems if p.message.startswith("Obsolete")
    }
    ours |= {
        ("ambiguous", p.file or "", p.line or 0)
        for p in config.problems
        if "'#' without a blank" in p.message
    }
    if fatal(doveconf, result.stderr):
        ours = {o for o in ours if o[0] != "global-after-filter"}
        assert theirs <= ours
    else:
        assert ours == theirs


def test_doveconf_refuses_exactly_these(case: tuple[str, Path, Doveconf]) -> None:
    name, _, doveconf = case
    result = doveconf.run("-n")
    assert (result.returncode != 0) == (name in FATAL_CASES | CONFLICT_CASES), result.stderr
    assert ("Conflict in setting" in result.stderr) == (name in CONFLICT_CASES), result.stderr


def _as_read(key: str, value: str | None) -> str | None:
    """A setting's value as mailcert reads it: through the redaction rule, which hides secret-looking ones."""
    return None if value is None else redact_line(f"{key} = {value}")


@pytest.mark.parametrize("case", sorted(set(CASES) - FATAL_CASES), indirect=True)
def test_lookups(case: tuple[str, Path, Doveconf]) -> None:
    _, root, doveconf = case
    config = load_dovecot_config(LocalRoot(root))
    listener_keys = [
        f"service/{service}/inet_listener/{name}/{key}"
        for service in LOGIN_SERVICES
        for name in config.listeners(service)
        for key in ("port", "ssl")
    ]
    compared = 0
    for query in queries(config):
        result = doveconf.run(*lookup_args(query), "-P", "-h", *KEYS, *listener_keys)
        if result.returncode != 0:
            assert "Conflict in setting" in result.stderr, result.stderr
            with pytest.raises(FilterConflictError):
                config.value("ssl", **query)
            continue
        lines = result.stdout.split("\n")
        for key, expected in zip(KEYS + listener_keys, lines, strict=False):
            assert _as_read(key, config.value(key, **query)) == _as_read(key, expected), (key, query)
            compared += 1
    assert compared > 0


@pytest.mark.parametrize("case", sorted(set(CASES) - FATAL_CASES - CONFLICT_CASES), indirect=True)
def test_listeners_and_certificates(case: tuple[str, Path, Doveconf]) -> None:
    _, root, doveconf = case
    service = parse_dovecot(LocalRoot(root))
    config = load_dovecot_config(LocalRoot(root))
    protocols = doveconf.run("-h", "protocols").stdout.split()
    assert enabled_protocols(config) == protocols or (
        not protocols and enabled_protocols(config) == ["imap", "pop3"]
    )
    expected = set()
    # No `protocols` anywhere: this doveconf (Debian's build, protocols.d) has an empty default; the parser
    # assumes imap and pop3, as Debian's -imapd/-pop3d packages add and as RHEL's built-in default serves
    # (tests/data/dovecot/rhel9-letsencrypt): the listeners are compared for those.
    for login, (protocol, _) in LOGIN_SERVICES.items():
        if protocol not in (protocols or enabled_protocols(config)):
            continue
        for name in config.listeners(login):
            base = f"service/{login}/inet_listener/{name}"
            port, ssl = doveconf.run("-h", f"{base}/port", f"{base}/ssl").stdout.split("\n")[:2]
            if port != "0":
                expected.add((name, int(port), Mode.IMPLICIT if ssl == "yes" else Mode.STARTTLS))
    assert {(x.name, x.port, x.mode) for x in service.listeners} == expected
    for listener in service.listeners:
        login, protocol = next(
            (s, p) for s, (p, _) in LOGIN_SERVICES.items() if listener.name in config.listeners(s)
        )
        address = doveconf.run("-h", f"service/{login}/inet_listener/{listener.name}/address").stdout.strip()
        bound = ["-f", f"local={address}"] if address and " " not in address and "*" not in address else []
        result = doveconf.run(*bound, "-f", f"protocol={protocol}", "-h", "ssl_cert", "ssl_key", "ssl_ca")
        if result.returncode != 0:
            continue
        cert, key, ca = result.stdout.split("\n")[:3]
        source = listener.certificates[0] if listener.certificates else None
        if cert.startswith("</"):  # relative "<file" paths: see the unit tests
            assert source is not None and source.cert_files == (cert[1:],)
            if key.startswith("</") or not key:
                assert source.key_file == (key[1:] or None)
            if ca.startswith("</") or not ca:
                assert source.ca_file == (ca[1:] or None)
        elif not cert:
            assert source is None
