"""A host's gathered facts behind the HostFiles protocol, so lint's parsers and checks run on them unchanged."""

from __future__ import annotations

import base64
import binascii
import fnmatch
import posixpath
from dataclasses import dataclass
from functools import cached_property

from mailcert.facts import BlockKind, FileFacts, PemBlock, TextFile
from mailcert.gather.document import GatherDocument, Record, parse_document
from mailcert.gather.system import (
    DaemonProcess,
    UnitState,
    daemon_process,
    dovecot_version,
    exim_version,
    listening_ports,
    main_daemons,
    postfix_version,
    systemctl_units,
)
from mailcert.hostfs import decode_config
from mailcert.pem import _why_no_pem, scan_pem

NOT_GATHERED = "not gathered from the host (mailcert did not know this file was needed)"
_TOO_LARGE = "file is larger than 1024 KiB; not read"
# What pem.py says about such data, asked with a sample of that shape (same wording for lint and audit).
_NO_PEM_SAMPLE = {"empty": b"", "der": b"\x30", "binary": b"\x00", "text": b"x", "broken": b"-----BEGIN"}


@dataclass(frozen=True)
class CommandOutput:
    """A command the gather program ran on the host: exit status (127: not installed), stdout, stderr."""

    name: str
    exit_status: int | None
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class GatheredHost:
    """HostFiles over one gather document (paths as on the host), plus the host facts that are not files."""

    def __init__(self, document: GatherDocument, *, name: str | None = None) -> None:
        self.name = name
        self.document = document
        # Names as the host printed them may hold ".." (includes relative to a subfolder): normalised here.
        self._paths = _by_path(document, "path")
        self._texts = _by_path(document, "text")
        self._content: dict[str, Record] = {}
        for record in document.records:
            if record.kind in ("pem", "nopem", "toolarge", "unreadable"):
                self._content[_normal(record.name)] = record
        self._walked = {
            _normal(r.name) for r in document.of_kind("walked") if r.fields.get("complete") == "1"
        }
        self._children: dict[str, set[str]] = {}
        for path, record in self._paths.items():
            if record.fields.get("t") in ("f", "d", "o"):
                self._add_ancestors(path)

    @classmethod
    def from_output(cls, text: str, *, name: str | None = None) -> GatheredHost:
        """Parse the gather program's stdout."""
        return cls(parse_document(text, host=name), name=name)

    def _add_ancestors(self, path: str) -> None:
        while path != "/":
            parent, _, child = path.rpartition("/")
            parent = parent or "/"
            self._children.setdefault(parent, set()).add(child)
            path = parent

    # -- HostFiles --------------------------------------------------------------------------------
    def stat(self, path: str) -> FileFacts:
        path = _normal(path)
        record = self._paths.get(path)
        if record is None:
            if path in self._children:
                return FileFacts(path=path, exists=True, error="not a regular file", resolved=path)
            if self._known_absent(path):
                return FileFacts(path=path, exists=False, error="no such file", resolved=path)
            return FileFacts(path=path, exists=False, error=NOT_GATHERED)
        kind = record.fields.get("t")
        resolved = record.link or path
        if kind == "missing":
            return FileFacts(path=path, exists=False, error="no such file", resolved=resolved)
        if kind == "outside":
            return FileFacts(path=path, exists=False, error=f"{path} leads outside the gathered root")
        if record.fields.get("e") == "stat" or "m" not in record.fields:
            return FileFacts(path=path, exists=True, error="cannot stat the file", resolved=resolved)
        fields = record.fields
        return FileFacts(
            path=path,
            exists=True,
            mode=_int(fields.get("m"), 8),
            uid=_int(fields.get("u")),
            gid=_int(fields.get("g")),
            owner=_name(fields.get("on")),
            group=_name(fields.get("gn")),
            mtime=_mtime(fields.get("mt"), fields.get("mf")),
            size=_int(fields.get("s")),
            resolved=resolved,
            error=None if kind == "f" else "not a regular file",
        )

    def _known_absent(self, path: str) -> bool:
        """True when the gather proves `path` does not exist: an ancestor is missing, or the nearest
        recorded ancestor is a real folder inside a folder the gather listed completely."""
        ancestor = path
        while ancestor != "/":
            ancestor = posixpath.dirname(ancestor)
            record = self._paths.get(ancestor)
            if record is None:
                if ancestor in self._children:
                    return False  # known only as the parent of something: its listing may be partial
                continue
            kind = record.fields.get("t")
            if kind == "missing":
                return True
            if kind != "d" or record.fields.get("l") != "0":
                return False
            return any(ancestor == w or ancestor.startswith(w.rstrip("/") + "/") for w in self._walked)
        return False

    def _unreadable(self) -> str:
        uid = self.meta("uid")
        if uid not in (None, "0"):
            return (
                f"cannot read: Permission denied (gathered as uid {uid}, not root: set ansible_become: true)"
            )
        return "cannot read: Permission denied"

    def pem_file(self, path: str) -> FileFacts:
        path = _normal(path)
        facts = self.stat(path)
        if not facts.exists or facts.error:
            return facts
        content = self._content.get(path) or self._texts.get(path)
        if content is None:
            return _with(facts, error=NOT_GATHERED)
        if content.kind == "toolarge":
            return _with(facts, error=_TOO_LARGE)
        if content.kind == "unreadable":
            return _with(facts, error=self._unreadable())
        if content.kind == "text":
            blocks, pem_error = scan_pem(content.body)
            return _with(facts, blocks=blocks, pem_error=pem_error)
        if content.kind == "nopem":
            return _with(
                facts, pem_error=_why_no_pem(_NO_PEM_SAMPLE.get(content.fields.get("why", ""), b"x"))
            )
        blocks = pem_blocks(content.body)
        if not blocks:
            return _with(facts, pem_error=_why_no_pem(_NO_PEM_SAMPLE["broken"]))
        return _with(facts, blocks=blocks)

    def read_config(self, path: str) -> TextFile:
        path = _normal(path)
        facts = self.stat(path)
        if not facts.exists or facts.error:
            return TextFile(path=path, text=None, error=facts.error or "no such file", mtime=facts.mtime)
        text = self._texts.get(path)
        if text is not None:
            return TextFile(path=path, text=decode_config(text.body), mtime=facts.mtime)
        content = self._content.get(path)
        if content is not None and content.kind == "nopem" and content.fields.get("why") == "empty":
            return TextFile(path=path, text="", mtime=facts.mtime)
        why = {
            None: NOT_GATHERED,
            "pem": "holds PEM blocks: not sent as text (private keys never leave the host)",
            "toolarge": _TOO_LARGE,
            "unreadable": self._unreadable(),
        }.get(content.kind if content else None, "not sent as text (only configuration files are)")
        return TextFile(path=path, text=None, error=why, mtime=facts.mtime)

    def glob(self, pattern: str) -> list[str]:
        directory, _, name_pattern = pattern.rpartition("/")
        if any(ch in directory for ch in "*?["):
            results: list[str] = []
            for parent in self.glob(directory or "/"):
                if self.is_dir(parent):
                    results.extend(self.glob(f"{parent}/{name_pattern}"))
            return sorted(results)
        base = directory or "/"
        return [
            f"{base.rstrip('/')}/{name}"
            for name in self.listdir(base)
            if fnmatch.fnmatchcase(name, name_pattern)
            and not (name.startswith(".") and not name_pattern.startswith("."))
        ]

    def exists(self, path: str) -> bool:
        return self.stat(path).exists

    def is_dir(self, path: str) -> bool:
        path = _normal(path)
        record = self._paths.get(path)
        if record is not None:
            return record.fields.get("t") == "d"
        return path in self._children

    def listdir(self, path: str) -> list[str]:
        path = _normal(path)
        if not self.is_dir(path):
            return []
        return sorted(self._children.get(path, ()))

    # -- host facts -------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        record = self.document.by_name("meta").get(key)
        return record.body.decode("utf-8", "replace") if record is not None else None

    @property
    def clock(self) -> int | None:
        """The host's clock (epoch seconds) when gathering started."""
        return _int(self.meta("clock"))

    @property
    def root(self) -> str:
        return self.meta("root") or "/"

    @cached_property
    def commands(self) -> dict[str, CommandOutput]:
        errors = {r.name: r.body.decode("utf-8", "replace") for r in self.document.of_kind("cmderr")}
        return {
            r.name: CommandOutput(
                r.name, _int(r.fields.get("rc")), r.body.decode("utf-8", "replace"), errors.get(r.name, "")
            )
            for r in self.document.of_kind("cmd")
        }

    def command(self, name: str) -> CommandOutput | None:
        """`postconf-n`, `postconf-nx`, `postconf-M`, `postconf-Px`, `doveconf-n`, `exim-bP`, versions, ..."""
        return self.commands.get(name)

    @cached_property
    def versions(self) -> dict[str, str]:
        """Daemon versions by service (postfix, dovecot, exim) where the host told them."""
        found: dict[str, str] = {}
        for service, command, parse in (
            ("postfix", "postfix-version", postfix_version),
            ("dovecot", "dovecot-version", dovecot_version),
            ("exim", "exim-version", exim_version),
        ):
            output = self.command(command)
            version = parse(output.stdout) if output is not None and output.ok else None
            if version:
                found[service] = version
        return found

    @cached_property
    def daemons(self) -> dict[str, DaemonProcess]:
        """Running mail daemons (main process per service) in the host's own namespaces."""
        boot, ticks = _int(self.meta("btime")), _int(self.meta("clk_tck"))
        processes = []
        for record in self.document.of_kind("proc"):
            pid = _int(record.fields.get("pid"))
            if pid is None:
                continue
            process = daemon_process(record.name, pid, record.body.decode("utf-8", "replace"), boot, ticks)
            if process is not None:
                processes.append(process)
        return main_daemons(processes)

    @cached_property
    def units(self) -> dict[str, UnitState]:
        """systemd units of the mail services and certbot timers (empty when systemd does not run the host)."""
        output = self.command("systemctl")
        return systemctl_units(output.stdout) if output is not None and output.ok else {}

    @cached_property
    def listening_ports(self) -> frozenset[int]:
        return listening_ports(r.body.decode("ascii", "replace") for r in self.document.of_kind("proc-net"))


def pem_blocks(stream: bytes) -> tuple[PemBlock, ...]:
    """PemBlocks from the gather program's PEM stream: certificate blocks as PEM, keys as their public key."""
    blocks: list[PemBlock] = []
    lines = stream.decode("ascii", "replace").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("-----BEGIN ") and "PUBLIC KEY" not in line:
            end = next(
                (j for j in range(index + 1, len(lines)) if lines[j].startswith("-----END ")), len(lines) - 1
            )
            text = "\n".join(lines[index : end + 1]) + "\n"
            # A non-ASCII byte inside a block (decoded to U+FFFD above) makes it corrupt, not a crash.
            blocks.extend(scan_pem(text.encode("ascii", "replace"))[0])
            index = end + 1
        elif line.startswith("%KEY "):
            parts = line.split()
            label = parts[1].replace("_", " ") if len(parts) > 1 else "PRIVATE KEY"
            encrypted = len(parts) > 2 and parts[2] == "1"
            index += 1
            if encrypted:
                blocks.append(PemBlock(kind=BlockKind.PRIVATE_KEY, label=label, encrypted=True))
                continue
            public, index = _public_key(lines, index)
            if public is None:
                error = "corrupt or unsupported private key block (openssl on the host could not read it)"
                blocks.append(PemBlock(kind=BlockKind.PRIVATE_KEY, label=label, error=error))
            else:
                blocks.append(PemBlock(kind=BlockKind.PRIVATE_KEY, label=label, public_key_der=public))
        elif line.startswith("%OTHER "):
            blocks.append(PemBlock(kind=BlockKind.OTHER, label=line[len("%OTHER ") :]))
            index += 1
        else:
            index += 1  # %BROKEN and anything unexpected: pem.py ignores an unterminated block too
    return tuple(blocks)


def _public_key(lines: list[str], index: int) -> tuple[bytes | None, int]:
    if index < len(lines) and lines[index] == "%KEYERR":
        return None, index + 1
    if index >= len(lines) or lines[index] != "-----BEGIN PUBLIC KEY-----":
        return None, index
    body: list[str] = []
    index += 1
    while index < len(lines) and lines[index] != "-----END PUBLIC KEY-----":
        body.append(lines[index])
        index += 1
    try:
        return base64.b64decode("".join(body), validate=True), index + 1
    except (binascii.Error, ValueError):
        return None, index + 1


def _by_path(document: GatherDocument, kind: str) -> dict[str, Record]:
    return {_normal(r.name): r for r in document.records if r.kind == kind}


def _name(sent: str | None) -> str | None:
    """A user or group name as stat printed it: the gather program sends its spaces as %20."""
    return sent.replace("%20", " ") if sent else None


def _mtime(seconds: str | None, clock: str | None) -> float | None:
    """Whole seconds (%Y) plus the fraction from %y's time of day ("03:04:05.123456789")."""
    whole = _int(seconds)
    if whole is None:
        return None
    _, dot, fraction = (clock or "").partition(".")
    if dot and fraction.isdigit():
        return whole + float(f"0.{fraction}")
    return float(whole)


def _normal(path: str) -> str:
    normal = posixpath.normpath("/" + path.lstrip("/"))
    return "/" if normal == "//" else normal


def _int(text: str | None, base: int = 10) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip(), base)
    except ValueError:
        return None


def _with(facts: FileFacts, **changes: object) -> FileFacts:
    return FileFacts(**{**facts.__dict__, **changes})
