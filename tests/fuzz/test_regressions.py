"""Inputs the fuzz suite found that crashed a parser, kept as plain tests (one per bug, with its story)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mailcert.audit.lint import LintOptions, lint_host
from mailcert.checks.certs import CheckOptions
from mailcert.errors import InventoryError
from mailcert.explain import explain
from mailcert.gather.host import pem_blocks
from mailcert.hostfs import LocalRoot
from mailcert.inventory import load_inventory
from mailcert.model import Report
from mailcert.pem import scan_pem
from mailcert.pki.trust import TrustStore
from mailcert.report import render
from mailcert.services.dovecot.parser import parse_dovecot
from tests.fuzz.strategies import no_hang
from tests.pki import NOW, TestPKI


def test_name_longer_than_the_filesystem_allows_is_a_missing_file(tmp_path: Path) -> None:
    """hostfs: lstat() raised OSError ENAMETOOLONG out of LocalRoot for a 200 kB include name."""
    root = LocalRoot(tmp_path)
    long_name = "/etc/" + "x" * 300
    assert not root.exists(long_name) and not root.is_dir(long_name)
    assert root.read_config(long_name).text is None
    assert root.stat(long_name).error
    assert root.listdir(long_name) == [] and root.glob(long_name + "/*") == []
    deep = "/" + "/".join(["y" * 200] * 30)  # each name fits, the whole path does not (PATH_MAX)
    assert not root.exists(deep) and root.pem_file(deep).error


def test_dovecot_include_of_a_huge_glob_is_a_finding(tmp_path: Path) -> None:
    conf = tmp_path / "etc/dovecot/dovecot.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("!include conf.d/*.conf = " + "x" * 200_000 + "\n")
    service = parse_dovecot(LocalRoot(tmp_path))
    assert any(f.check == "config.syntax" for f in service.findings)


def test_nested_host_ranges_are_refused_before_they_multiply(tmp_path: Path) -> None:
    """inventory/raw.py: h[0:999][0:999] built a million hosts (hang); a 5000-digit bound hit int()'s limit."""
    for line in (
        "h[0:999][0:999]",
        "h[0:99999999999]",
        "h[0:" + "9" * 5000 + "]",
        "h[1:3:" + "9" * 5000 + "]",
    ):
        inventory = tmp_path / "hosts.ini"
        inventory.write_text(f"[mail]\n{line}\n")
        with pytest.raises(InventoryError, match="host range"):
            load_inventory(inventory)
    inventory.write_text("[mail]\nm[01:05:2]\n")
    assert [h.name for h in load_inventory(inventory).hosts] == ["m01", "m03", "m05"]  # Ansible's stride


def test_yaml_inventory_with_a_control_character_is_an_inventory_error(tmp_path: Path) -> None:
    """inventory/yamlsource.py: PyYAML's ReaderError (raised by the loader's constructor) escaped."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_bytes(b"all:\n  hosts:\n    mx1\x1f:\n")
    with pytest.raises(InventoryError, match="not valid YAML"):
        load_inventory(inventory)


def test_non_ascii_inside_a_gathered_certificate_block_is_a_corrupt_block() -> None:
    """gather/host.py pem_blocks: a hostile host's cert file with a non-ASCII byte raised UnicodeEncodeError."""
    (block,) = pem_blocks(b"-----BEGIN CERTIFICATE-----\nMIIB\xff\xfe\n-----END CERTIFICATE-----\n")
    assert block.der is None and block.error and "corrupt" in block.error


def test_explain_ignores_numbers_no_client_prints() -> None:
    """explain.py: int() raised ValueError on a decimal over 4300 digits."""
    for query in ("flags " + "9" * 5000, "0x" + "f" * 5000, "verify error:num=" + "9" * 5000):
        explain(query)
    assert explain("verify error:num=20").causes  # the real one still decodes


def test_c1_control_from_a_config_is_escaped_in_json_and_sarif(tmp_path: Path) -> None:
    """report/json.py, sarif.py: json.dumps(ensure_ascii=False) printed U+009B (CSI) from dovecot.conf raw."""
    conf = tmp_path / "etc/dovecot/dovecot.conf"
    conf.parent.mkdir(parents=True)
    conf.write_bytes(b"\xc2\x9b\x7f\n")
    options = LintOptions(checks=CheckOptions(now=NOW, trust=TrustStore.of([])))
    host = lint_host(LocalRoot(tmp_path), name="mx", options=options)
    report = Report(generated_at=NOW, evaluated_at=NOW, hosts=(host,))
    for fmt in ("json", "sarif"):
        out = render(report, fmt)
        assert "\x9b" not in out and "\x7f" not in out
        assert "\\u009b" in out and json.loads(out)


def test_host_names_do_not_reach_files_outside_host_vars(tmp_path: Path) -> None:
    """inventory/varfiles.py: a 300-character host name raised ENAMETOOLONG; "../x" read vars from outside."""
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "outside.yml").write_text("ansible_port: 2222\n")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f'all:\n  hosts:\n    "{"h" * 300}": {{}}\n    "../outside": {{}}\n')
    hosts = {h.name: h for h in load_inventory(inventory).hosts}
    assert hosts["../outside"].port == 22
    assert hosts["h" * 300].port == 22


def test_explain_of_one_huge_word_is_quick() -> None:
    """explain.py: the dotted-name pattern backtracked O(n²) on a 200 kB word (a hang past 20 s)."""
    with no_hang(5):
        explain("0x10 = " + "x" * 200_000)


def test_certificate_with_a_damaged_public_key_is_a_corrupt_block() -> None:
    """pem.py: cryptography parses lazily; a bit-flipped public key raised ValueError deep in the key check."""
    der = TestPKI("Regression").leaf().cert.public_bytes(serialization.Encoding.DER)
    point = der.find(b"\x03\x42\x00\x04")  # the EC public key: BIT STRING, uncompressed point
    damaged = der[: point + 3] + b"\xfb" + der[point + 4 :]
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(damaged) + b"-----END CERTIFICATE-----\n"
    (block,), _ = scan_pem(pem)
    assert block.der is None and block.error and "corrupt certificate block" in block.error
