"""The Postfix parser must agree with the real `postconf` on every corpus config in tests/data/postfix.

Two `postconf`s answer: the machine's (Postfix 3.7, Debian 12) and Debian 13's (Postfix 3.10, run with
the Debian 13 root's /usr, tests/debian13.py). mailcert reads each tree with the version that postconf
reports as mail_version, as an audit does with the version the host's gather reports.

For each corpus directory: `postconf -c DIR -n` (explicit parameters), `postconf -c DIR -P` (master.cf
overrides) and, for main.cf alone and for every smtpd service, `postconf -c DIR [-o name=value ...] -xh NAMES`
(expanded values with that service's -o overrides applied, as smtpd applies them).
postconf prints values with runs of whitespace folded to one space, so both sides are compared folded.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailcert.hostfs import LocalRoot
from mailcert.services.postfix.config import PostfixConfig, file_list
from mailcert.services.postfix.expand import MacroError
from mailcert.services.postfix.params import DEFAULTS, TLS_NAMES
from mailcert.services.postfix.sni import read_sni_maps
from tests.debian13 import debian13_argv, require_debian13

pytestmark = pytest.mark.oracle

CORPUS = Path(__file__).resolve().parents[1] / "data" / "postfix"
CORPUS_DIRS = sorted(p.name for p in CORPUS.iterdir() if (p / "main.cf").is_file())
POSTCONF = shutil.which("postconf") or ("/usr/sbin/postconf" if Path("/usr/sbin/postconf").exists() else None)
# Process-specific values that postconf reports about itself.
_NOT_COMPARED = {"process_id", "process_name"}


@dataclass(frozen=True)
class Postfix:
    """One Postfix installation's postconf and postmap, as argument-list prefixes."""

    postconf: tuple[str, ...]
    postmap: tuple[str, ...]

    @functools.cached_property
    def version(self) -> str:
        """mail_version, what a host's gather reports (gather.sh `postconf -h mail_version`)."""
        return run(self, "-dh", "mail_version").strip()


def _machine_postfix() -> Postfix:
    if POSTCONF is None:
        if os.geteuid() != 0:
            pytest.skip("postconf is not installed and we are not root (make test installs it as root)")
        pytest.fail("postconf is not installed; run `make system-deps` (CI runs as root and must not skip)")
    return Postfix((POSTCONF,), (str(Path(POSTCONF).with_name("postmap")),))


def _debian13_postfix() -> Postfix:
    require_debian13()
    return Postfix(tuple(debian13_argv(["postconf"])), tuple(debian13_argv(["postmap"])))


@pytest.fixture(scope="module", params=["postfix-3.7", "postfix-3.10"])
def postconf(request: pytest.FixtureRequest) -> Postfix:
    postfix = _machine_postfix() if request.param == "postfix-3.7" else _debian13_postfix()
    assert postfix.version.startswith(request.param.removeprefix("postfix-") + "."), postfix.version
    return postfix


def run_program(command: Sequence[str], *args: str) -> str:
    done = subprocess.run([*command, *args], capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 0, f"{command[-1]} {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def run(postfix: Postfix, *args: str) -> str:
    return run_program(postfix.postconf, *args)


def fold(value: str) -> str:
    return " ".join(value.split())


def name_values(output: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for line in output.splitlines():
        name, _, value = line.partition("=")
        result[name.strip()] = fold(value)
    return result


@functools.cache
def known_names(postconf: Postfix) -> frozenset[str]:
    return frozenset(name_values(run(postconf, "-d")))


def load(directory: Path, postfix: Postfix) -> PostfixConfig:
    master = directory / "master.cf"
    return PostfixConfig.from_text(
        (directory / "main.cf").read_text(),
        master.read_text() if master.exists() else "",
        config_dir=str(directory),
        hostname=socket.gethostname(),  # postconf takes myhostname's default from this machine
        version=postfix.version,
    )


@pytest.mark.parametrize("name", CORPUS_DIRS)
def test_explicit_parameters_match_postconf_n(postconf: Postfix, name: str) -> None:
    directory = CORPUS / name
    config = load(directory, postconf)
    theirs = name_values(run(postconf, "-c", str(directory), "-n"))
    # postconf -n leaves out parameters it calls unused: unknown to Postfix and referenced nowhere.
    used = known_names(postconf) | config.referenced_names()
    ours = {k: fold(v) for k, v in config.explicit().items() if k in used}
    ours["config_directory"] = str(directory)
    assert ours == theirs


@pytest.mark.parametrize("name", CORPUS_DIRS)
def test_overrides_match_postconf_p(postconf: Postfix, name: str) -> None:
    directory = CORPUS / name
    theirs = name_values(run(postconf, "-c", str(directory), "-P"))
    ours = {k: fold(v) for k, v in load(directory, postconf).overrides().items()}
    assert ours == theirs


@pytest.mark.parametrize("name", CORPUS_DIRS)
def test_expanded_values_per_service_match_postconf_x(postconf: Postfix, name: str) -> None:
    directory = CORPUS / name
    config = load(directory, postconf)
    known = known_names(postconf)
    scopes: list[str | None] = [None]
    scopes += [e.key for e in config.services() if e.program in ("smtpd", "postscreen")]
    for scope in scopes:
        overrides = config.service(scope).overrides if scope else ()
        names = set(DEFAULTS) | {"myhostname", "mydomain"} | set(config.explicit())
        names |= {o.name for o in overrides}
        names = sorted((names & known) - _NOT_COMPARED)
        args = ["-c", str(directory)]
        for override in overrides:
            args += ["-o", f"{override.name}={override.value}"]
        theirs = run(postconf, *args, "-xh", *names).split("\n")[: len(names)]
        ours = [fold(config.value(n, scope)) for n in names]
        mismatches = {n: (o, fold(t)) for n, o, t in zip(names, ours, theirs, strict=True) if o != fold(t)}
        assert mismatches == {}, f"service {scope or 'main.cf'}: ours vs postconf"


def test_every_tls_parameter_postconf_knows_is_known(postconf: Postfix) -> None:
    # an unknown *tls* name is reported as a critical typo ("Postfix ignores the setting"): Postfix 3.10's
    # smtp_tlsrpt_enable or tls_required_enable must not be
    assert {n for n in known_names(postconf) if "tls" in n} - TLS_NAMES == set()


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS_DIRS) >= 18


EXPRESSIONS = [
    "$a-${a}-$(a)",
    "${a?yes}|${a:no}|${zz?yes}|${zz:no}",
    "${empty?yes}|${empty:no}",
    "${a?{v1}:{v2}}|${zz?{v1}:{v2}}",
    "$$a $$ x $a$$",
    "${ a }|${a ? yes}|${ zz ? {x} : {y} }",
    "$a.b $a-b $a_b",
    "${a?${b}}|${a:${b}}x|${a?$(b)}",
    "${a?{a{b}c}}|${a?{x}:y}|${zz?{x}:y}|${a?x:y}|${zz:a:b}",
    "${{$a} == {1}?{eq}:{ne}}|${{$a} != {1}?{eq}:{ne}}|${{x} == {x}}|${{x}=={y}}",
    "${{10} < {9}?{lt}:{ge}}|${{a} < {b}?{lt}:{ge}}|${{1} <= {1}?{le}}",
    "${{3.6} <level {3.10}?{lt}:{ge}}|${{$compatibility_level} <level {3.6} ? {old} : {new}}",
    "${raw_only?set}|${raw_only:unset}",
    "<${a?{ v1 }}>",
    "$mail_name on $myhostname",
    "x$",
    "$",
    "${a",
    "${}",
    "$-x",
    "${a?{x}y}",
    "${a?{x}:{y} z}",
    "${zz:{x}:{y}}",
    "${a-b}",
    "${{x} === {y}}",
    "$loop1",
    "<${ }>|<$( )>|<${ ?x}>|<${ :x}>",
    "${ a b}",
]


_MASTER_CF = "smtp inet n - y - - smtpd\n"


def write_config(directory: Path, main_cf: str, master_cf: str = _MASTER_CF) -> None:
    """Write main.cf and master.cf dated a minute ago: Postfix waits until a just-written file is >1 s old."""
    for name, text in (("main.cf", main_cf), ("master.cf", master_cf)):
        path = directory / name
        path.write_text(text)
        past = time.time() - 60
        os.utime(path, (past, past))


def expression_main_cf(expression: str) -> str:
    return (
        "myhostname = mail.example.com\na = 1\nb = $a-${a}-$(a)\nempty =\nraw_only = $empty\n"
        "compatibility_level = 2\nloop1 = $loop2\nloop2 = ${loop1}\n"
        f"smtpd_banner = {expression}\n"
    )


@pytest.fixture(scope="module")
def postconf_expansions(
    postconf: Postfix, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, str, str]]:
    """postconf's verdict on every expression, run in parallel: Postfix sleeps a second on each fatal error."""

    base = tmp_path_factory.mktemp("expressions")

    def one(index_expression: tuple[int, str]) -> tuple[str, tuple[int, str, str]]:
        index, expression = index_expression
        directory = base / str(index)
        directory.mkdir()
        write_config(directory, expression_main_cf(expression))
        done = subprocess.run(
            [*postconf.postconf, "-c", str(directory), "-xh", "smtpd_banner"],
            capture_output=True,
            text=True,
            check=False,
        )
        return expression, (done.returncode, done.stdout, done.stderr)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(pool.map(one, enumerate(EXPRESSIONS)))


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_expansion_matches_postconf(
    postconf_expansions: dict[str, tuple[int, str, str]], expression: str
) -> None:
    returncode, stdout, stderr = postconf_expansions[expression]
    config = PostfixConfig.from_text(expression_main_cf(expression), "")
    if returncode != 0:
        assert "macro processing error" in stderr
        with pytest.raises(MacroError):
            config.value("smtpd_banner")
    else:
        assert fold(config.value("smtpd_banner")) == fold(stdout)


MAIN_CF_LAYOUTS = [
    "smtpd_banner = a\n\n  b\n",
    "smtpd_banner = a\n \n  b\n",
    "smtpd_banner = a\n# x\n  b\n",
    "smtpd_banner = a\n  # x\n\tb\n",
    "smtpd_banner = a\\\n  b\n",
    "  smtpd_tls_loglevel = 2\nsmtpd_banner = x\n",
    "smtpd_banner=x\nsmtpd_tls_loglevel\t=\t1\n",
    "smtpd_banner == a\n",
    "smtpd_banner = x y \r\nsmtpd_tls_loglevel = 1\r\n",
    "smtpd_banner = one\n     two     \n   three\n",
    "smtpd_tls_cert_file = /etc/ssl/a.pem # comment\n",
    "smtpd_tls_key_file = /etc/ssl/k.pem\n  smtpd_tls_security_level = may\n",
]


@pytest.mark.parametrize("text", MAIN_CF_LAYOUTS)
def test_main_cf_layout_matches_postconf(postconf: Postfix, tmp_path: Path, text: str) -> None:
    main_cf = "myhostname = mail.example.com\n" + text
    write_config(tmp_path, main_cf)
    theirs = name_values(run(postconf, "-c", str(tmp_path), "-n"))
    config = PostfixConfig.from_text(main_cf, "", config_dir=str(tmp_path))
    ours = {k: fold(v) for k, v in config.explicit().items()}
    ours["config_directory"] = str(tmp_path)
    assert ours == theirs


def postmap_dump(postfix: Postfix, tmp_path: Path, table: str) -> str:
    """`postmap -s TABLE` with a config folder of its own (a machine whose Postfix was installed with "No
    configuration" has no /etc/postfix/main.cf, and postmap reads main.cf first)."""
    config_dir = tmp_path / "postmap-config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "main.cf").write_text("compatibility_level = 3.6\n")
    return run_program(postfix.postmap, "-c", str(config_dir), "-s", table)


def test_sni_source_file_is_read_like_postmap(postconf: Postfix, tmp_path: Path) -> None:
    source = tmp_path / "etc/postfix/sni"
    source.parent.mkdir(parents=True)
    source.write_text(
        "# name  key, then chain\n"
        "mail.example.org   /a/privkey.pem,\n"
        "                   /a/fullchain.pem\n"
        "  # comment inside the continuation\n"
        "\n"
        ".Example.NET\t/k.pem /c.pem\n"
        "x.example   /one.pem  ,/two.pem\r\n"
    )
    past = time.time() - 60
    os.utime(source, (past, past))
    dumped = postmap_dump(postconf, tmp_path, f"texthash:{source}")
    theirs = {}
    for line in dumped.splitlines():
        key, _, value = line.partition("\t")
        theirs[key] = file_list(value)
    result = read_sni_maps(
        LocalRoot(tmp_path), "texthash:/etc/postfix/sni", setting_location=None, ca_file=None
    )
    ours = {sni.names[0]: list(sni.source.cert_files) for sni in result.certificates}
    assert ours == theirs


def test_inline_sni_table_is_read_like_postmap(postconf: Postfix, tmp_path: Path) -> None:
    table = "inline:{ {imap.example.com = /k.pem, /c.pem}, smtp.example.com=/both.pem , { .Example.NET = /x.pem /y.pem } }"
    dumped = postmap_dump(postconf, tmp_path, table)
    theirs = {
        key: file_list(value) for key, _, value in (line.partition("\t") for line in dumped.splitlines())
    }
    result = read_sni_maps(LocalRoot(tmp_path), table, setting_location=None, ca_file=None)
    assert {sni.names[0]: list(sni.source.cert_files) for sni in result.certificates} == theirs
