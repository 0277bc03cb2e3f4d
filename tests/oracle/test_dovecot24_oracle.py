"""The Dovecot parser against Dovecot 2.4's real `doveconf` (2.4.1, Debian 13, run with the Debian 13 root's
/usr through tests/debian13.py).

Trees: tests/data/dovecot24 (2.4 syntax, the Debian 13 package default among them) and the published 2.4
configurations of ../shared/realworld (read from there, never copied into the repository). For each one
doveconf reads a copy whose absolute includes point into the copy (tests/doveconf_tree.py) and mailcert reads
the tree as an audit of a Dovecot 2.4 host does (`version` = the daemon's). Compared: the fatal error (file,
line, message), the protocol list, the login listeners (port, implicit TLS or STARTTLS), `ssl` per protocol
and the certificate and key file for every listener and every local_name the configuration names
(`doveconf -f protocol=… -f local_name=… [-f local=…] ssl_server`).

The 2.3 corpus (tests/data/dovecot) is also given to 2.4's doveconf: it refuses every tree, and mailcert,
told the host runs 2.4, must refuse each at the same place.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailcert.hostfs import LocalRoot
from mailcert.model import Mode
from mailcert.services.dovecot.config import LOGIN_SERVICES, DovecotConfig, load_dovecot_config
from mailcert.services.dovecot.filters import wildcard_match
from mailcert.services.dovecot.parser import enabled_protocols, parse_dovecot
from mailcert.services.model import CertSource, Listener, ServiceConfig
from tests.debian13 import debian13_argv, require_debian13
from tests.doveconf_tree import Doveconf, fatal, materialise
from tests.realworld import SOURCES, host_tree

pytestmark = pytest.mark.oracle

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = DATA / "dovecot24"
CORPUS_23 = DATA / "dovecot"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
CASES_23 = sorted(p.name for p in CORPUS_23.iterdir() if p.is_dir())
# Published configurations written for Dovecot 2.4 (those with dovecot_config_version).
REALWORLD = ["dms-head"]
VERSION = "2.4.1"  # what `dovecot --version` of Debian 13 says, as the gather reports it
CONF = "/etc/dovecot/dovecot.conf"

# doveconf 2.4.1's fatal errors on the corpus, copied by hand from its output (test_fatal_errors checks them).
FATAL: dict[str, tuple[str, int, str]] = {
    "cleartext-23-name": (CONF, 6, "disable_plaintext_auth: Unknown setting: disable_plaintext_auth"),
    "listener-address": (
        CONF,
        10,
        "address: Unknown setting: address (inet_listener_address or inet_listener_imaps_address not found either.)",
    ),
    "local-name-multi": (CONF, 4, "Expecting '{'"),
    "names-23": (CONF, 6, "ssl_cert: Unknown setting: ssl_cert"),
    "version-not-first": (CONF, 1, "The first setting must be dovecot_config_version"),
}
# `doveconf -n` accepts these, but Dovecot, which reads `<file` values at start as `doveconf -x` does, stops.
FATAL_AT_START: dict[str, tuple[str, int, str]] = {
    "lt-file": (CONF, 6, "ssl_server_cert_file: open(/etc/ssl/certs/mail.pem\n) failed"),
}
# What mailcert's message must say for each kind of doveconf error.
_SAME_ERROR = [
    (re.compile(r"^(\S+): Unknown setting: (\S+)"), r"Unknown setting: \2"),
    (re.compile(r"^Expecting '\{'"), "Expecting '{'"),
    (
        re.compile(r"^The first setting must be dovecot_config_version"),
        "dovecot_config_version as the first setting",
    ),
    (re.compile(r"^(\S+_file): open\("), r"\1 takes a file path in Dovecot 2.4"),
]
_SSL_SERVER_KEYS = ("cert_file", "key_file")
# Where `doveconf -f` does not answer what Dovecot serves: a nested block (`local_name x { protocol pop3 { } }`)
# after a flat one (`protocol pop3 { }`) that also matches. Found by serving the tree from Dovecot 2.4.1 and
# asking with `openssl s_client -starttls pop3 -servername pop.example.com` (the matching blocks apply in file
# order, the later winning: mailcert/services/dovecot/filters.py). (tree, protocol, local_name) →
# (certificate Dovecot served, certificate doveconf names).
DOVECONF_IS_NOT_DOVECOT: dict[tuple[str, str, str | None], tuple[str, str]] = {
    ("ssl-server-blocks", "pop3", "pop.example.com"): (
        "/etc/ssl/certs/pop.example.com.pem",
        "/etc/ssl/certs/pop3.pem",
    ),
}


@pytest.fixture(scope="module")
def doveconf24() -> list[str]:
    require_debian13()
    return debian13_argv(["doveconf"])


Tree = tuple[str, Path, Doveconf]


def _tree(
    name: str, doveconf24: list[str], tmp_path_factory: pytest.TempPathFactory, corpus: Path | None
) -> Tree:
    tmp = tmp_path_factory.mktemp(name.replace("/", "-"))
    if corpus is None:
        root = host_tree(name.removeprefix("realworld/"), tmp)
    else:
        root = materialise(corpus, name, tmp / "root")
    return name, root, Doveconf(root, tmp / "doveconf", doveconf24)


TREES = CASES + [f"realworld/{r}" for r in REALWORLD]
ACCEPTED = [t for t in TREES if t not in FATAL]
SERVING = [t for t in ACCEPTED if t not in FATAL_AT_START]  # Dovecot starts and serves certificates


@pytest.fixture(scope="module", params=TREES)
def tree(
    request: pytest.FixtureRequest, doveconf24: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Tree:
    name: str = request.param
    return _tree(name, doveconf24, tmp_path_factory, None if name.startswith("realworld/") else CORPUS)


def load(root: Path) -> DovecotConfig:
    return load_dovecot_config(LocalRoot(root), version=VERSION)


def service(root: Path) -> ServiceConfig:
    return parse_dovecot(LocalRoot(root), version=VERSION)


def refused_at(config: DovecotConfig, error: tuple[str, int | None, str]) -> None:
    """mailcert refuses the configuration at doveconf's file and line, saying the same thing."""
    file, line, message = error
    wanted = next((found.expand(said) for rule, said in _SAME_ERROR if (found := rule.match(message))), None)
    assert wanted is not None, f"no rule for doveconf's message {message!r}"
    mine = [p for p in config.problems if p.refused and (p.file, p.line) == (file, line)]
    assert any(wanted in p.message for p in mine), (error, config.problems)


def accepted(doveconf: Doveconf) -> bool:
    return doveconf.run("-n").returncode == 0


def test_fatal_errors(tree: Tree) -> None:
    name, root, doveconf = tree
    result = doveconf.run("-n")
    error = fatal(doveconf, result.stderr)
    assert (result.returncode != 0, error) == (name in FATAL, FATAL.get(name)), result.stderr
    config = load(root)
    if name in FATAL:
        refused_at(config, FATAL[name])
    elif name in FATAL_AT_START:
        expanded = fatal(doveconf, doveconf.run("-x", "-n").stderr)
        file, line, message = FATAL_AT_START[name]
        assert expanded is not None and expanded[:2] == (file, line), expanded
        assert expanded[2].startswith(message.split("\n")[0]), expanded
        refused_at(config, expanded)
    else:
        assert [p for p in config.problems if p.refused] == []


def doveconf_protocols(doveconf: Doveconf) -> list[str]:
    """`doveconf protocols`: `protocols = a b` or the boolean list `protocols { a = yes }`."""
    text = doveconf.run("protocols").stdout
    if found := re.match(r"protocols =(.*)", text):
        return found.group(1).split()
    return re.findall(r"^\s+(\S+) = yes$", text, flags=re.M)


@pytest.mark.parametrize("tree", ACCEPTED, indirect=True)
def test_protocols(tree: Tree) -> None:
    _, root, doveconf = tree
    assert accepted(doveconf)
    assert enabled_protocols(load(root)) == doveconf_protocols(doveconf)


def doveconf_listeners(doveconf: Doveconf, login: str) -> dict[str, tuple[int, bool, str]]:
    """inet_listener name → (port, ssl, address) of a login service, from `doveconf -a service/LOGIN`."""
    out: dict[str, tuple[int, bool, str]] = {}
    text = doveconf.run("-a", f"service/{login}").stdout
    for name, body in re.findall(r"^  inet_listener (\S+) \{\n(.*?)^  \}", text, flags=re.M | re.S):
        port = re.search(r"^    port = (\d+)$", body, flags=re.M)
        ssl = re.search(r"^    ssl = (\S+)$", body, flags=re.M)
        address = re.search(r"^    listen = (.*)$", body, flags=re.M)  # 2.3's `address`
        out[name] = (
            int(port.group(1)) if port else 0,
            ssl is not None and ssl.group(1) == "yes",
            address.group(1).strip() if address else "",
        )
    return out


@pytest.mark.parametrize("tree", ACCEPTED, indirect=True)
def test_listeners_and_modes(tree: Tree) -> None:
    _, root, doveconf = tree
    assert accepted(doveconf)
    protocols = doveconf_protocols(doveconf)
    expected = set()
    for login, (protocol, _) in LOGIN_SERVICES.items():
        if protocol in protocols:
            for listener, (port, implicit, _) in doveconf_listeners(doveconf, login).items():
                if port:
                    expected.add((listener, port, Mode.IMPLICIT if implicit else Mode.STARTTLS))
    ours = {(x.name, x.port, x.mode) for x in service(root).listeners}
    assert ours == expected
    config = load(root)
    for protocol in protocols:
        ssl = doveconf.run("-f", f"protocol={protocol}", "ssl").stdout.strip()
        assert f"ssl = {config.value('ssl', protocol=protocol)}" == ssl, protocol


def doveconf_certificate(doveconf: Doveconf, *filters: str) -> tuple[str, str]:
    """(cert_file, key_file) that `doveconf -f … ssl_server` gives a connection; "" when unset."""
    args = [arg for f in filters for arg in ("-f", f)]
    result = doveconf.run(*args, "ssl_server")
    assert result.returncode == 0, result.stderr
    values = dict(re.findall(r"^  (\S+) = (.*)$", result.stdout, flags=re.M))
    cert, key = (values.get(k, "") for k in _SSL_SERVER_KEYS)
    return cert, key


def served(listener: Listener, local_name: str | None) -> CertSource | None:
    """The certificate mailcert says a client asking for `local_name` gets on this listener."""
    if local_name is not None:
        for sni in listener.sni:
            if any(wildcard_match(pattern, local_name) for pattern in sni.names):
                return sni.source
    return listener.certificates[0] if listener.certificates else None


def local_names(config: DovecotConfig) -> list[str]:
    names = [n.replace("*", "x") for flt in config.filters for n in flt.names]
    return [*dict.fromkeys(names), "unknown.example"]


@pytest.mark.parametrize("tree", SERVING, indirect=True)
def test_certificate_per_listener_and_local_name(tree: Tree) -> None:
    name, root, doveconf = tree
    assert accepted(doveconf)
    config = load(root)
    compared = 0
    recorded: set[tuple[str, str, str | None]] = set()
    for listener in service(root).listeners:
        login = next(
            s for s, (p, _) in LOGIN_SERVICES.items() if listener.name in doveconf_listeners(doveconf, s)
        )
        protocol = LOGIN_SERVICES[login][0]
        address = doveconf_listeners(doveconf, login)[listener.name][2]
        bound = [f"local={address}"] if address and " " not in address and "*" not in address else []
        for local_name in [None, *local_names(config)]:
            filters = [f"protocol={protocol}", *bound] + ([f"local_name={local_name}"] if local_name else [])
            theirs = doveconf_certificate(doveconf, *filters)
            source = served(listener, local_name)
            ours = (source.cert_files[0], source.key_file or "") if source else ("", "")
            known = DOVECONF_IS_NOT_DOVECOT.get((name, protocol, local_name))
            if known is not None:
                assert (ours[0], theirs[0]) == known, (listener.name, listener.port, local_name)
                recorded.add((name, protocol, local_name))
                continue
            assert ours == theirs, (listener.name, listener.port, local_name)
            compared += 1
    assert compared > 0 or not service(root).listeners
    assert recorded == {k for k in DOVECONF_IS_NOT_DOVECOT if k[0] == name}


def test_every_ssl_setting_doveconf_knows_is_accepted(doveconf24: list[str], tmp_path: Path) -> None:
    # mailcert refuses an unknown ssl_* name close to a known one as a typo: none that 2.4.1 knows may be refused
    empty = tmp_path / "empty"
    (empty / "etc/dovecot").mkdir(parents=True)
    (empty / "etc/dovecot/dovecot.conf").write_text(
        "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n"
    )
    listing = Doveconf(empty, tmp_path / "copy", doveconf24).run("-a").stdout
    names = sorted(set(re.findall(r"^(\w*ssl\w*) = ", listing, flags=re.M)))
    assert "ssl_server_cert_file" in names
    text = "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n" + "".join(
        f"{n} = no\n" for n in names
    )
    (empty / "etc/dovecot/dovecot.conf").write_text(text)
    unknown = [p.message for p in load(empty).problems if "Unknown setting" in p.message]
    assert unknown == []


@pytest.fixture(scope="module", params=CASES_23)
def tree_23(
    request: pytest.FixtureRequest, doveconf24: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Tree:
    return _tree(request.param, doveconf24, tmp_path_factory, CORPUS_23)


def test_23_tree_on_a_24_host_is_refused_like_doveconf(tree_23: Tree) -> None:
    # what a user upgrading to Debian 13 depends on: mailcert says Dovecot 2.4 will not start, and where
    _, root, doveconf = tree_23
    result = doveconf.run("-n")
    error = fatal(doveconf, result.stderr)
    assert result.returncode != 0 and error is not None, result.stderr
    refused_at(load(root), error)


def test_realworld_24_list_is_complete() -> None:
    # every published configuration with dovecot_config_version is in REALWORLD
    found = sorted(
        p.parts[len(SOURCES.parts)]
        for p in SOURCES.glob("*/root/etc/dovecot/**/*")
        if p.is_file() and "dovecot_config_version" in p.read_text(errors="replace")
    )
    assert sorted(set(found)) == sorted(REALWORLD)
