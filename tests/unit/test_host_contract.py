"""One typed host contract (issue 20): every mailcert_* variable is parsed and checked by inventory/hostvars.py
into InventoryHost (and its FixSettings); a bad value names its file and line; nothing outside
mailcert.inventory reads a host's raw `vars`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mailcert
from mailcert.errors import InventoryError
from mailcert.fix.apply.host import state_dir_of
from mailcert.gather.unfinished import state_folder
from mailcert.inventory import load_inventory
from mailcert.inventory.model import DEFAULT_STATE_DIR, FixSettings, InventoryHost, Refusal

PACKAGE = Path(mailcert.__file__).parent


def _reads_vars(node: ast.AST) -> bool:
    """`x.vars`, or `getattr(x, "vars")`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "vars"
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) > 1
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value == "vars"
    )


def test_nothing_outside_the_inventory_reads_a_hosts_raw_vars() -> None:
    readers = [
        f"mailcert/{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', '?')}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "inventory"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if _reads_vars(node)
    ]
    assert readers == [], "read the typed fields of InventoryHost instead: " + ", ".join(readers)


def _host(tmp_path: Path, text: str) -> InventoryHost:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    mx1:\n")
    (tmp_path / "host_vars").mkdir(exist_ok=True)
    (tmp_path / "host_vars" / "mx1.yml").write_text(text)
    return load_inventory(tmp_path).host("mx1")


def test_defaults_are_those_of_the_docs(tmp_path: Path) -> None:
    host = _host(tmp_path, "ansible_host: 192.0.2.1\n")
    assert host.resolver is None and host.inventory_hostnames == ()
    assert host.fix == FixSettings()
    assert host.fix.state_dir == DEFAULT_STATE_DIR == "/var/lib/mailcert"
    assert host.fix.central_cert_dir == "/etc/mailcert/live"
    assert (host.fix.renew_before_days, host.fix.acme_dns_propagation_seconds) == (30, 60)
    assert host.fix.acme_preflight and not host.fix.hostnames_from_dns


def test_values_are_typed(tmp_path: Path) -> None:
    host = _host(
        tmp_path,
        "mailcert_resolver: 10.0.0.1:5353\n"
        "mailcert_hostnames: {imap: [Mail.Example.com.], smtp: smtp.example.com}\n"
        "mailcert_hostnames_from_dns: yes\n"
        "mailcert_acme_preflight: 'off'\n"
        "mailcert_acme_caa_domain: PKI.example.net.\n"
        "mailcert_cert_name: mx1-mail\n"
        "mailcert_state_dir: /srv/mc/\n"
        "mailcert_central_cert_dir: /etc/mc/live/\n"
        "mailcert_central_state_dir: /var/lib/mc-central\n"
        "mailcert_acme_dns_credentials: /etc/mc/rfc2136.ini\n"
        "mailcert_acme_dns_credentials_env: MC_TSIG\n"
        "mailcert_acme_dns_propagation_seconds: '5'\n"
        "mailcert_renew_before_days: 40\n"
        "mailcert_tsig_secret: c2VjcmV0\n",
    )
    assert host.resolver == "10.0.0.1:5353"
    assert host.inventory_hostnames == ("mail.example.com", "smtp.example.com")
    assert host.fix == FixSettings(
        hostnames_from_dns=True,
        acme_preflight=False,
        acme_caa_domain="pki.example.net",
        cert_name="mx1-mail",
        state_dir="/srv/mc",
        central_cert_dir="/etc/mc/live",
        central_state_dir="/var/lib/mc-central",
        acme_dns_credentials="/etc/mc/rfc2136.ini",
        acme_dns_credentials_env="MC_TSIG",
        acme_dns_propagation_seconds=5,
        renew_before_days=40,
        inline_secret="mailcert_tsig_secret",
    )
    assert "c2VjcmV0" not in repr(host) and "rfc2136.ini" not in repr(host)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("mailcert_hostnames_from_dns: ture\n", "mailcert_hostnames_from_dns must be yes or no"),
        ("mailcert_hostnames_from_dns: auto\n", "mailcert_hostnames_from_dns must be yes or no"),
        ("mailcert_acme_preflight: sometimes\n", "mailcert_acme_preflight must be yes or no"),
        ("mailcert_resolver: [10.0.0.1]\n", "mailcert_resolver must be a string"),
        ("mailcert_acme_caa_domain: {a: b}\n", "mailcert_acme_caa_domain must be a string"),
        ("mailcert_cert_name: [a]\n", "mailcert_cert_name must be a string"),
        ("mailcert_central_cert_dir: live\n", "mailcert_central_cert_dir must be an absolute path"),
        ("mailcert_central_state_dir: state\n", "mailcert_central_state_dir must be an absolute path"),
        ("mailcert_acme_dns_credentials_env: MC-TSIG\n", "must be the name of an environment variable"),
        ("mailcert_acme_dns_propagation_seconds: 3601\n", "from 0 to 3600"),
        ("mailcert_renew_before_days: -1\n", "mailcert_renew_before_days must be a whole number"),
        ("mailcert_renew_before_days: true\n", "mailcert_renew_before_days must be a whole number"),
    ],
)
def test_a_bad_value_names_its_file_and_line(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(InventoryError) as caught:
        _host(tmp_path, "ansible_host: 192.0.2.1\n" + text)
    message = caught.value.line()
    assert f"{tmp_path / 'host_vars' / 'mx1.yml'}:2" in message, message
    assert words in message and "\n" not in message


def test_credentials_are_never_shown_in_an_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as caught:
        _host(tmp_path, "mailcert_acme_dns_credentials: [dns_rfc2136_secret = c2VjcmV0]\n")
    assert "c2VjcmV0" not in caught.value.line()


def test_a_bad_state_dir_is_refused_by_fix_and_skipped_by_the_audit(tmp_path: Path) -> None:
    host = _host(tmp_path, "ansible_host: 192.0.2.1\nmailcert_state_dir: relative/path\n")
    assert isinstance(host.fix.state_dir, Refusal)
    assert state_folder(host) is None  # the audit reads on (docs/contract-additions.md)
    with pytest.raises(InventoryError) as caught:
        state_dir_of(host)
    line = caught.value.line()
    assert f"{tmp_path / 'host_vars' / 'mx1.yml'}:2" in line and "is not an absolute path" in line
