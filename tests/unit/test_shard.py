"""`--shard K/N`: every host in exactly one shard, the same split in every run and inventory order, and
roughly even; bad values are one usage error."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mailcert.errors import UsageError
from mailcert.inventory.model import InventoryHost
from mailcert.inventory.shard import Shard, parse_shard, select_shard, shard_number

NAMES = [f"mx{n}.example.test" for n in range(1000)]


def _hosts(names: list[str]) -> list[InventoryHost]:
    return [InventoryHost(name=n, address=n) for n in names]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16])
def test_every_host_is_in_exactly_one_shard(count: int) -> None:
    hosts = _hosts(NAMES)
    shards = [select_shard(hosts, Shard(k, count)) for k in range(1, count + 1)]
    seen = Counter(h.name for shard in shards for h in shard)
    assert set(seen) == set(NAMES) and set(seen.values()) == {1}


def test_split_does_not_depend_on_inventory_order() -> None:
    shuffled = list(NAMES)
    random.Random(23).shuffle(shuffled)
    for k in (1, 2, 3):
        assert {h.name for h in select_shard(_hosts(NAMES), Shard(k, 3))} == {
            h.name for h in select_shard(_hosts(shuffled), Shard(k, 3))
        }


def test_shard_keeps_the_given_order() -> None:
    picked = select_shard(_hosts(NAMES), Shard(2, 3))
    assert [h.name for h in picked] == [n for n in NAMES if shard_number(n, 3) == 2]


def test_split_is_stable_across_processes() -> None:
    """Not Python's hash(): a fresh interpreter (another PYTHONHASHSEED) puts each name in the same shard."""
    here = [shard_number(n, 5) for n in NAMES[:50]]
    code = (
        "from mailcert.inventory.shard import shard_number;"
        "print([shard_number(f'mx{n}.example.test', 5) for n in range(50)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    ).stdout
    assert out.strip() == str(here)


def test_known_values_pin_the_hash() -> None:
    """SHA-256 of the name, big-endian, modulo N, plus 1: changing the rule would move hosts between jobs."""
    assert [shard_number(n, 4) for n in ("mx1", "mx2", "mx3", "imap.example.org")] == [2, 4, 3, 3]


@pytest.mark.parametrize("count", [2, 4, 10])
def test_split_is_roughly_even(count: int) -> None:
    sizes = Counter(shard_number(n, count) for n in NAMES)
    expected = len(NAMES) / count
    assert len(sizes) == count
    assert all(abs(size - expected) < 0.25 * expected for size in sizes.values()), sizes


def test_no_shard_means_all_hosts() -> None:
    hosts = _hosts(NAMES[:5])
    assert select_shard(hosts, None) == hosts


@pytest.mark.parametrize("text,shard", [("1/1", Shard(1, 1)), ("3/4", Shard(3, 4)), (" 2/3 ", Shard(2, 3))])
def test_parse_good_values(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard


@pytest.mark.parametrize(
    "text", ["0/3", "4/3", "x/y", "1/0", "0/0", "3", "", "/", "1/", "-1/3", "1.5/3", "1/3/4"]
)
def test_parse_bad_values_is_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_shard(text)
    assert "\n" not in caught.value.line() and "--shard" in caught.value.line()


def test_cli_bad_shard_exits_3_with_one_line(tmp_path: Path) -> None:
    from mailcert.cli import main

    for task in ("audit", "verify", "fix"):
        with pytest.raises(SystemExit) as exited:
            main(["mailcert", task, "-I", str(tmp_path / "none"), "--shard", "4/3"])
        assert exited.value.code == 3


def test_cli_shard_after_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--limit first, then the shard of what it selected: the union of the shards is what --limit picks."""
    import json

    from mailcert.cli import main

    names = [f"h{n}" for n in range(12)]
    lines = ["all:", "  hosts:"]
    for name in names:
        lines += [
            f"    {name}:",
            "      ansible_host: 127.0.0.1",
            f"      mailcert_known_hosts: {tmp_path}/none",
        ]
    lines += ["  children:", "    even:", "      hosts:"] + [f"        {n}:" for n in names[::2]]
    (tmp_path / "inventory.yml").write_text("\n".join(lines) + "\n")
    seen: list[str] = []
    for k in (1, 2, 3):
        with pytest.raises(SystemExit):
            main(
                [
                    "mailcert",
                    "audit",
                    "-I",
                    str(tmp_path / "inventory.yml"),
                    "--limit",
                    "even",
                    "--no-probe",
                    "--format",
                    "json",
                    "--shard",
                    f"{k}/3",
                ]
            )
        seen += [h["name"] for h in json.loads(capsys.readouterr().out)["hosts"]]
    assert sorted(seen) == sorted(names[::2])
