"""lint ROOT reads the host's files under ROOT only: absolute links re-rooted, escapes and loops refused."""

import os
from pathlib import Path

import pytest

from mailcert.errors import UsageError
from mailcert.hostfs import LocalRoot


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc/letsencrypt/archive/mx").mkdir(parents=True)
    (tmp_path / "etc/letsencrypt/live/mx").mkdir(parents=True)
    (tmp_path / "etc/letsencrypt/archive/mx/cert1.pem").write_text("archive cert\n")
    # certbot's relative link, and an absolute link as admins make them
    os.symlink("../../archive/mx/cert1.pem", tmp_path / "etc/letsencrypt/live/mx/cert.pem")
    os.symlink("/etc/letsencrypt/archive/mx/cert1.pem", tmp_path / "etc/abs-link.pem")
    return tmp_path


def test_relative_and_absolute_links_resolve_under_root(root: Path) -> None:
    files = LocalRoot(root)
    rel = files.read_config("/etc/letsencrypt/live/mx/cert.pem")
    absolute = files.read_config("/etc/abs-link.pem")
    assert rel.text == absolute.text == "archive cert\n"
    assert files.stat("/etc/abs-link.pem").resolved == "/etc/letsencrypt/archive/mx/cert1.pem"


def test_a_link_renewal_repoints_is_followed_to_its_new_target(root: Path) -> None:
    """certbot renew re-points live/ links; a later read (fix's re-lint) must follow the new link."""
    files = LocalRoot(root)
    assert files.stat("/etc/letsencrypt/live/mx/cert.pem").resolved == "/etc/letsencrypt/archive/mx/cert1.pem"
    (root / "etc/letsencrypt/archive/mx/cert2.pem").write_text("renewed cert\n")
    link = root / "etc/letsencrypt/live/mx/cert.pem"
    link.unlink()
    os.symlink("../../archive/mx/cert2.pem", link)
    for reader in (files, LocalRoot(root)):
        assert reader.read_config("/etc/letsencrypt/live/mx/cert.pem").text == "renewed cert\n"
        assert (
            reader.stat("/etc/letsencrypt/live/mx/cert.pem").resolved
            == "/etc/letsencrypt/archive/mx/cert2.pem"
        )


def test_absolute_link_never_reads_the_control_machine(
    root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.pem"
    outside.write_text("control machine file\n")
    os.symlink(str(outside), root / "etc/points-out.pem")
    result = LocalRoot(root).read_config("/etc/points-out.pem")
    # The absolute target is taken as a path on the host, i.e. under ROOT, where it does not exist.
    assert result.text is None
    assert result.error


def test_relative_link_climbing_above_root_is_refused(root: Path) -> None:
    os.symlink("../../../../../../etc/passwd", root / "etc/escape")
    facts = LocalRoot(root).stat("/etc/escape")
    assert not facts.exists
    assert "climbs above /" in (facts.error or "")


def test_symlink_loop_is_an_error_not_a_hang(root: Path) -> None:
    os.symlink("b", root / "etc/a")
    os.symlink("a", root / "etc/b")
    facts = LocalRoot(root).pem_file("/etc/a")
    assert not facts.exists
    assert "loop" in (facts.error or "")


def test_missing_root_is_one_clear_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a directory"):
        LocalRoot(tmp_path / "nope")


def test_huge_file_is_not_read(root: Path) -> None:
    (root / "etc/huge.pem").write_bytes(b"A" * (2 * 1024 * 1024))
    facts = LocalRoot(root).pem_file("/etc/huge.pem")
    assert facts.exists
    assert "larger than" in (facts.error or "")
    assert facts.blocks == ()


def test_unreadable_file_reports_why(root: Path) -> None:
    (root / "etc/dir.pem").mkdir()
    facts = LocalRoot(root).pem_file("/etc/dir.pem")
    assert facts.error == "not a regular file"


def test_glob_matches_names_and_skips_dotfiles(root: Path) -> None:
    conf = root / "etc/dovecot/conf.d"
    conf.mkdir(parents=True)
    for name in ("10-ssl.conf", "10-auth.conf", ".hidden.conf", "README"):
        (conf / name).write_text("")
    assert LocalRoot(root).glob("/etc/dovecot/conf.d/*.conf") == [
        "/etc/dovecot/conf.d/10-auth.conf",
        "/etc/dovecot/conf.d/10-ssl.conf",
    ]


def test_owner_names_come_from_the_hosts_own_passwd_and_group(root: Path) -> None:
    # The host's files name this machine's uid/gid differently from this machine's own databases.
    (root / "etc/passwd").write_text(f"mailadm:x:{os.getuid()}:4242::/:/bin/sh\n")
    (root / "etc/group").write_text(f"ssl-cert:x:{os.getgid()}:\n")
    (root / "etc/key.pem").write_text("k")
    facts = LocalRoot(root).stat("/etc/key.pem")
    assert (facts.owner, facts.group) == ("mailadm", "ssl-cert")


def test_glob_over_directories_with_star_in_their_names(root: Path) -> None:
    # cPanel keeps per-domain certificates under directories literally named "*.example.org".
    for name in ("*.example.org", "mail.example.org"):
        (root / "var/cpanel/ssl/domain_tls" / name).mkdir(parents=True)
        (root / "var/cpanel/ssl/domain_tls" / name / "combined").write_text("")
    assert LocalRoot(root).glob("/var/cpanel/ssl/domain_tls/*/combined") == [
        "/var/cpanel/ssl/domain_tls/*.example.org/combined",
        "/var/cpanel/ssl/domain_tls/mail.example.org/combined",
    ]
    assert LocalRoot(root).glob("/var/cpanel/ssl/*/nothing") == []
