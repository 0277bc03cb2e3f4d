"""`--shard K/N`: a stable split of the selected hosts by host name, so N independent jobs cover a fleet once.

A host belongs to shard K (1-based) when the SHA-256 of its inventory name, read as a big-endian number, is
K-1 modulo N. The hash (not Python's `hash()`, which changes per process) makes the split the same on
every machine, in every run, whatever the inventory's order; adding or removing a host moves no other host.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from mailcert.errors import UsageError

# More shards than this is surely a typo (and a job per shard): 1/1000000 would run one job per host.
MAX_SHARDS = 10_000


@dataclass(frozen=True)
class Shard:
    """The K-th (1-based) of N shards."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, host_name: str) -> bool:
        return shard_number(host_name, self.count) == self.index


def shard_number(host_name: str, count: int) -> int:
    """The 1-based shard of `host_name` among `count` shards."""
    digest = hashlib.sha256(host_name.encode("utf-8")).digest()
    return int.from_bytes(digest, "big") % count + 1


def parse_shard(text: str) -> Shard:
    """`--shard 2/4` as a Shard, or one UsageError saying what a valid value looks like."""
    head, slash, tail = text.strip().partition("/")
    todo = "write --shard K/N with whole numbers 1 <= K <= N, e.g. --shard 1/4 ... --shard 4/4"
    if not slash or not head.isdigit() or not tail.isdigit():
        raise UsageError(f"--shard {text!r} is not K/N", todo=todo)
    index, count = int(head), int(tail)
    if count < 1 or count > MAX_SHARDS:
        raise UsageError(f"--shard {text}: N must be between 1 and {MAX_SHARDS}", todo=todo)
    if not 1 <= index <= count:
        raise UsageError(f"--shard {text}: K must be between 1 and N ({count}); K counts from 1", todo=todo)
    return Shard(index, count)


class _Named(Protocol):  # what select_shard needs of a host: its inventory name
    @property
    def name(self) -> str: ...


HostT = TypeVar("HostT", bound=_Named)


def select_shard(hosts: Iterable[HostT], shard: Shard | None) -> list[HostT]:
    """The hosts of `shard`, in their given order (all of them when shard is None)."""
    if shard is None:
        return list(hosts)
    return [host for host in hosts if shard.holds(host.name)]
