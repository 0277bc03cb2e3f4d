"""The remote program itself: POSIX sh that shellcheck accepts, and the same output under dash and bash."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mailcert.gather import gather_argv, gather_command, gather_script
from mailcert.gather.document import parse_document
from mailcert.gather.host import GatheredHost

SCRIPT = Path(__file__).resolve().parents[2] / "mailcert" / "gather" / "gather.sh"


def test_script_is_clean_posix_sh() -> None:
    # installed by scripts/install-system-deps
    result = subprocess.run(["shellcheck", "-s", "sh", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_shipped_script_is_the_file_and_the_command_quotes_it() -> None:
    assert gather_script() == SCRIPT.read_text()
    command = gather_command("/srv/host root")
    assert command.startswith("sh -c '") and command.endswith(" mailcert-gather '/srv/host root'")


def test_same_document_under_dash_and_bash_posix(tmp_path: Path) -> None:
    root = tmp_path / "host"
    (root / "etc/postfix").mkdir(parents=True)
    (root / "etc/postfix/main.cf").write_text("myhostname = mx.example.test\n")
    documents = []
    for shell in (["dash"], ["bash", "--posix"]):
        assert shutil.which(shell[0]), shell
        argv = gather_argv(str(root))
        out = subprocess.run([*shell, *argv[1:]], capture_output=True, text=True, check=True).stdout
        kept = [r for r in parse_document(out).records if r.kind in ("path", "text", "walked")]
        documents.append([(r.kind, r.name, r.body) for r in kept])
    assert documents[0] == documents[1]
    assert ("text", "/etc/postfix/main.cf", b"myhostname = mx.example.test\n") in documents[0]


def _gather(root: Path, shell: str = "dash") -> list[tuple[str, str, dict[str, str], bytes]]:
    argv = gather_argv(str(root))
    out = subprocess.run([shell, *argv[1:]], capture_output=True, text=True, check=True, timeout=60).stdout
    return [(r.kind, r.name, dict(r.fields), r.body) for r in parse_document(out).records]


def test_every_file_of_a_folder_gets_its_own_metadata_around_links_stat_cannot_follow(tmp_path: Path) -> None:
    """Files are stat'ed in one batch per folder: a dangling link or a link loop between files (stat prints
    no line for them) must not shift one file's size and mode onto the next."""
    etc = tmp_path / "host/etc/postfix"
    etc.mkdir(parents=True)
    sizes = {"a.cf": 1, "c.cf": 22, "e f*.cf": 333, "g.cf": 4444, "z.cf": 55555}
    for i, (name, size) in enumerate(sizes.items()):
        (etc / name).write_text("x" * (size - 1) + "\n")
        (etc / name).chmod(0o600 + i)
    (etc / "b.cf").symlink_to("/nonexistent/b")  # dangling: stat -L prints nothing for it
    (etc / "d1").symlink_to("d2")
    (etc / "d2").symlink_to("d1")  # a loop
    (etc / "y.cf").symlink_to("z.cf")  # followed: z.cf's size
    records = {(kind, name): fields for kind, name, fields, _ in _gather(tmp_path / "host") if kind == "path"}
    for i, (name, size) in enumerate(sizes.items()):
        fields = records[("path", f"/etc/postfix/{name}")]
        assert (fields["t"], fields["s"], fields["m"]) == ("f", str(size), format(0o600 + i, "o")), name
    assert records[("path", "/etc/postfix/y.cf")]["s"] == "55555"
    assert records[("path", "/etc/postfix/b.cf")]["t"] == "missing"
    assert records[("path", "/etc/postfix/d1")]["t"] == "missing"


def test_includes_are_followed_as_dovecot_and_exim_read_them(tmp_path: Path) -> None:
    """`!include`/`!include_try` (globs, quotes, relative to the including file), Exim's `.include`, and
    relative `<file` values: each named file is sent as configuration, the commented one is not."""
    root = tmp_path / "host"
    dovecot = root / "etc/dovecot"
    (dovecot / "conf.d").mkdir(parents=True)
    (dovecot / "dovecot.conf").write_text(
        '!include conf.d/*.conf\n!include_try   "with space.conf"  \nssl_key = <keys/k.pem\n'
        "# ssl_cert = <commented.pem\n"
    )
    (dovecot / "conf.d/10-ssl.conf").write_text("ssl_cert = </etc/dovecot/abs.pem\n!include ../deeper.conf\n")
    (dovecot / "deeper.conf").write_text("local_name mx { ssl_cert = < sni.pem }\n")
    for name in ("with space.conf", "keys/k.pem", "sni.pem", "commented.pem", "abs.pem"):
        (dovecot / name).parent.mkdir(parents=True, exist_ok=True)
        (dovecot / name).write_text("not pem\n")
    exim = root / "etc/exim4"
    exim.mkdir(parents=True)
    (exim / "exim4.conf").write_text(".include_if_exists /etc/exim4/local.inc\n")
    (root / "etc/local.inc").write_text("never\n")  # a different folder than the include names
    (exim / "local.inc").write_text("tls_certificate = /etc/exim4/c.pem\n")
    records = _gather(root)
    sent = {name for kind, name, _, _ in records if kind == "text"}
    for name in ("conf.d/10-ssl.conf", "deeper.conf", "with space.conf", "keys/k.pem", "sni.pem"):
        assert f"/etc/dovecot/{name}" in sent, name
    assert "/etc/exim4/local.inc" in sent
    assert "/etc/dovecot/commented.pem" not in sent


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a private mount namespace (root; CI runs as root)")
def test_owner_and_group_names_with_a_space_stay_whole_and_the_next_file_keeps_its_metadata(
    tmp_path: Path,
) -> None:
    """Hosts joined to Active Directory have groups like "domain users": stat prints the name with its space.
    The name must reach the report whole (the key-permission finding names the group) and must not shift the
    next file's fields. /etc/group gets the spaced name only inside a private mount namespace."""
    etc = tmp_path / "host/etc/postfix"
    etc.mkdir(parents=True)
    (etc / "a.cf").write_text("x\n")
    (etc / "b.cf").write_text("yy\n")
    (etc / "b.cf").chmod(0o640)
    os.chown(etc / "a.cf", 0, 54321)
    group = tmp_path / "group"
    group.write_text(Path("/etc/group").read_text() + "domain users:x:54321:\n")
    argv = gather_argv(str(tmp_path / "host"))
    inner = 'mount --bind "$1" /etc/group && shift && exec dash "$@"'
    out = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", inner, "sh", str(group), *argv[1:]],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    host = GatheredHost.from_output(out)
    a, b = host.stat("/etc/postfix/a.cf"), host.stat("/etc/postfix/b.cf")
    assert (a.gid, a.group, a.owner, a.size, a.error) == (54321, "domain users", "root", 2, None)
    assert (b.group, b.owner, b.size, b.mode, b.error) == ("root", "root", 3, 0o640, None)
    # the modification time keeps its fraction: the field read is the time of day, not a word of a name
    assert b.mtime == pytest.approx((etc / "b.cf").stat().st_mtime, abs=1e-6)
