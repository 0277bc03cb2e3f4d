"""Parse the one document the gather program prints (see gather.sh for the format) into records."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from mailcert.errors import HostError

HEADER = "%MAILCERT-GATHER 1"
TRAILER = "%END"
MAX_DOCUMENT_CHARS = 256 * 1024 * 1024


@dataclass(frozen=True)
class Record:
    """One framed record: its kind, name (a host path or a command/meta name), fields, body and link target."""

    kind: str
    name: str
    fields: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    link: str | None = None  # "%L" line: where symlinks led (path as on the host)


@dataclass(frozen=True)
class GatherDocument:
    records: tuple[Record, ...]

    def of_kind(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.kind == kind]

    def by_name(self, kind: str) -> dict[str, Record]:
        """Records of one kind by name; a later record of the same name wins (paths may be visited twice)."""
        return {r.name: r for r in self.records if r.kind == kind}


def parse_document(text: str, *, host: str | None = None) -> GatherDocument:
    """Records of a gather document; a truncated or foreign document is a HostError naming the host."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise HostError("gathered facts are larger than 256 MiB; refusing to parse them", where=host)
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line == HEADER), None)
    if start is None:
        raise HostError(
            "the gather program printed no facts document",
            where=host,
            todo="check that /bin/sh, coreutils and openssl exist on the host",
        )
    records: list[Record] = []
    index = start + 1
    finished = False
    while index < len(lines):
        line = lines[index]
        if line == TRAILER:
            finished = True
            break
        if not line.startswith("%R "):
            raise _broken(host, index, "expected a record header")
        kind, fields = _header(line)
        index += 1
        if index >= len(lines) or not lines[index].startswith("%P "):
            raise _broken(host, index, "record without a name line")
        name = lines[index][3:]
        index += 1
        link = None
        body_lines: list[str] = []
        while index < len(lines) and lines[index] != "%E":
            current = lines[index]
            if current.startswith("%L "):
                link = current[3:]
            elif current.startswith("%"):
                raise _broken(host, index, "record not closed")
            else:
                body_lines.append(current)
            index += 1
        if index >= len(lines):
            break
        index += 1  # past %E
        # A link line printed after %E (path records) belongs to the record just closed.
        if index < len(lines) and lines[index].startswith("%L "):
            link = lines[index][3:]
            index += 1
        records.append(Record(kind, name, fields, _decode(body_lines, host, index), link))
    if not finished:
        raise HostError(
            "the facts document ended early (connection dropped or the program was killed)",
            where=host,
            todo="run the audit again; if it persists, look at the host's free disk space and memory",
        )
    return GatherDocument(tuple(records))


def _header(line: str) -> tuple[str, dict[str, str]]:
    words = line[3:].split(" ")
    fields: dict[str, str] = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if eq:
            fields[key] = value
    return words[0], fields


def _decode(body_lines: list[str], host: str | None, index: int) -> bytes:
    if not body_lines:
        return b""
    try:
        return base64.b64decode("".join(body_lines), validate=True)
    except (binascii.Error, ValueError):
        raise _broken(host, index, "record body is not base64") from None


def _broken(host: str | None, index: int, why: str) -> HostError:
    return HostError(f"the facts document is damaged at line {index + 1}: {why}", where=host)
