"""Hostile-but-structured inputs for the parsers, and a real alarm so a hang fails the test.

Every strategy mixes a service's real keywords with junk: binary bytes, NULs, non-UTF-8, CRLF, huge
lines, unbalanced braces, deep nesting, `$(...)`, backticks, include loops. Plain random text alone
rarely reaches past the first line of a parser; real keywords make the junk land where it hurts.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from hypothesis import strategies as st

HANG_SECONDS = 20  # one example of one parser; the slowest real one takes well under a second


class HangError(AssertionError):
    """A parser ran longer than HANG_SECONDS on one input: a hang is a bug like a traceback."""


@contextlib.contextmanager
def no_hang(seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Fail (HangError) when the body runs longer than `seconds` (SIGALRM: main thread only)."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise HangError(f"no result after {seconds} s: the parser hangs on this input")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


HOSTILE_WORDS = [
    "$(touch /tmp/mailcert-canary)",
    "`id`",
    "; rm -rf /",
    "../../../../etc/shadow",
    "${",
    "}",
    "{",
    "$",
    "\\",
    '"',
    "'",
    "\x00",
    "\r\n",
    "\n",
    "\t",
    "\x1b[31m",
    "\u202e",
    "é",
    "²",
    "\udcff",  # a lone surrogate: what surrogateescape makes of a non-UTF-8 byte
    "*",
    "?",
    "[",
    "#",
    "=",
    ",",
    ":",
    "<",
    "-o",
    "!",
    "99999999999999999999",
    "9" * 5000,  # past Python's int-from-string limit (4300 digits): int() raises ValueError
    "-1",
    "0x10",
    "%",
    "%s",
    "{{ ''.__class__ }}",
]


def text_of(words: list[str], *, max_size: int = 60) -> st.SearchStrategy[str]:
    """Text built from `words` (a service's keywords), hostile words and raw characters."""
    alphabet = st.sampled_from([*words, *HOSTILE_WORDS, " ", " ", "\n", "\n", "=", "a", "1", "/"])
    pieces = st.lists(st.one_of(alphabet, alphabet, st.text(max_size=6)), max_size=max_size)
    return st.one_of(pieces.map("".join), st.text(max_size=200), huge_line(words))


def huge_line(words: list[str]) -> st.SearchStrategy[str]:
    """One keyword then a very long value (Postfix and Exim lines can be megabytes)."""
    return st.tuples(st.sampled_from(words), st.sampled_from(["x", "$", "{", "\\", "a,"])).map(
        lambda pair: f"{pair[0]} = {pair[1] * 200_000}\n"
    )


def to_bytes(text: str) -> bytes:
    """Text as a host would hold it: surrogates become the non-UTF-8 bytes they stand for."""
    return text.encode("utf-8", "surrogateescape")


junk_bytes = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"\xff\xfe\x00\x01", b"\x00" * 64, b"\xc3\x28\xa0\xa1", b"\xef\xbb\xbf# bom\n"]),
)


def write(root: Path, host_path: str, data: bytes | str) -> Path:
    """Plant a file at a host path under ROOT."""
    path = root / host_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(data) if isinstance(data, str) else data)
    return path


def content(words: list[str]) -> st.SearchStrategy[bytes]:
    """A config file's bytes: keyword text (CRLF sometimes) or raw binary junk."""
    text = text_of(words)
    return st.one_of(
        text.map(to_bytes),
        text.map(lambda t: to_bytes(t.replace("\n", "\r\n"))),
        junk_bytes,
    )


@contextlib.contextmanager
def tmp_root() -> Iterator[Path]:
    """A fresh folder standing for a host's / (one per example; hypothesis cannot share pytest's tmp_path)."""
    root = Path(tempfile.mkdtemp(prefix="mailcert-fuzz-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
