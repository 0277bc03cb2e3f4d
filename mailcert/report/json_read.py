"""SPEC's JSON report read back into the report model (`report merge`): the inverse of report/json.py.

Strict where it matters and tolerant where SPEC lets reports grow: the schema must be "mailcert/1", every
field SPEC names must be there with its type, and a status must be the one the findings give (a report
whose status was edited by hand, or cut short, is refused rather than merged). The additions mailcert
writes (docs/contract-additions.md §4: an endpoint's `advertised_by`, a host's `renewals` and fix's
`endpoints_after`) are read and checked the same way; other keys are ignored. `symptoms` are not read,
since they follow from the check ID and are written afresh. `render(read_report(render_json(r)), fmt)` is
`render(r, fmt)` byte for byte in every format, and so is the Prometheus textfile.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from mailcert.errors import MailcertError
from mailcert.model import (
    ConfiguredCert,
    Endpoint,
    Finding,
    HostReport,
    LineageRenewal,
    Mode,
    Report,
    ServedCert,
    Severity,
    Status,
    Verdict,
)

SCHEMA = "mailcert/1"
_MAX_BYTES = 512 * 1024 * 1024  # a report this large is not one mailcert wrote for a fleet it can audit

EnumT = TypeVar("EnumT", Severity, Status, Mode, Verdict)
T = TypeVar("T")


class ReportFileError(MailcertError):
    """A file given to `report merge` is not a mailcert JSON report (exit 3)."""


class _ShapeError(Exception):
    """Where in the document (a JSON path) and what is wrong; turned into one ReportFileError line."""

    def __init__(self, path: str, what: str) -> None:
        super().__init__(f"{path}: {what}")


def load_report(path: str) -> Report:
    """The report in file `path`, or one ReportFileError naming the file."""
    try:
        with Path(path).open(encoding="utf-8") as handle:
            text = handle.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        raise ReportFileError("no such file", where=path, todo="give the JSON report a run wrote") from None
    except UnicodeDecodeError:
        raise ReportFileError("not UTF-8 text, so not a JSON report", where=path) from None
    except OSError as exc:
        raise ReportFileError(f"cannot read: {exc.strerror or exc}", where=path) from None
    if len(text) > _MAX_BYTES:
        raise ReportFileError(f"larger than {_MAX_BYTES // (1024 * 1024)} MiB", where=path)
    return read_report(text, where=path)


def read_report(text: str, *, where: str = "report") -> Report:
    """A Report from SPEC's JSON text; a ReportFileError (what, at which JSON path) when it is not one."""
    todo = "give the file `mailcert audit|verify|fix --format json` wrote"
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        line = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ReportFileError(f"not JSON{line}: {str(exc).split(':')[0]}", where=where, todo=todo) from None
    except _ShapeError as exc:
        raise ReportFileError(f"not a clean JSON document: {exc}", where=where, todo=todo) from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        schema = document.get("schema") if isinstance(document, dict) else None
        found = f"schema {schema!r}" if isinstance(schema, str) else "no schema"
        raise ReportFileError(f"not a mailcert report ({found}, not {SCHEMA!r})", where=where, todo=todo)
    try:
        return _report(document)
    except _ShapeError as exc:
        raise ReportFileError(f"not a valid mailcert report: {exc}", where=where, todo=todo) from None


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    document = dict(pairs)
    if len(document) != len(pairs):
        doubled = next(k for i, (k, _) in enumerate(pairs) if k in dict(pairs[:i]))
        raise _ShapeError("object", f"key {doubled!r} appears twice")
    return document


def _no_constant(name: str) -> object:
    raise _ShapeError("value", f"{name} is not JSON")


def _report(doc: dict[str, object]) -> Report:
    hosts = tuple(_host(h, f"hosts[{i}]") for i, h in enumerate(_list(doc, "hosts", "")))
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise _ShapeError("hosts", f"host {host.name!r} appears twice")
        seen.add(host.name)
    plan: tuple[dict[str, object], ...] | None = None
    if "plan" in doc:
        entries = _list(doc, "plan", "")
        plan = tuple(_object(entry, f"plan[{i}]") for i, entry in enumerate(entries))
    report = Report(
        generated_at=_time(doc, "generated_at", ""),
        evaluated_at=_time(doc, "evaluated_at", ""),
        hosts=hosts,
        plan=plan,
    )
    _same_status(doc, report.status, "")
    return report


def _host(value: object, path: str) -> HostReport:
    doc = _object(value, path)
    host = HostReport(
        name=_str(doc, "name", path),
        endpoints=tuple(
            _endpoint(e, f"{path}.endpoints[{i}]") for i, e in enumerate(_list(doc, "endpoints", path))
        ),
        findings=tuple(
            _finding(f, f"{path}.findings[{i}]") for i, f in enumerate(_list(doc, "findings", path))
        ),
        error=_optional(doc, "error", path, _str),
        renewals=tuple(
            _renewal(r, f"{path}.renewals[{i}]")
            for i, r in enumerate(_list(doc, "renewals", path) if "renewals" in doc else [])
        ),
        endpoints_after=(
            tuple(
                _endpoint_after(e, f"{path}.endpoints_after[{i}]")
                for i, e in enumerate(_list(doc, "endpoints_after", path))
            )
            if "endpoints_after" in doc
            else None
        ),
    )
    _same_status(doc, host.status, path)
    return host


def _renewal(value: object, path: str) -> LineageRenewal:
    doc = _object(value, path)
    return LineageRenewal(lineage=_str(doc, "lineage", path), renewed_at=_time(doc, "renewed_at", path))


def _endpoint_after(value: object, path: str) -> dict[str, object]:
    """One `endpoints_after` entry, checked field by field and kept as written (it is JSON-shaped in the
    model too, as plan entries are)."""
    doc = _object(value, path)
    _str(doc, "service", path)
    _int(doc, "port", path)
    _enum(doc, "mode", path, Mode)
    _str(doc, "hostname", path)
    for side in ("before", "after"):
        _client_view(_field(doc, side, path), _at(path, side))
    _str(doc, "after_from", path)
    if not isinstance(_field(doc, "worse", path), bool):
        raise _ShapeError(_at(path, "worse"), "expected true or false")
    return doc


def _client_view(value: object, path: str) -> None:
    doc = _object(value, path)
    _enum(doc, "verdict", path, Verdict)
    for key in ("reason", "subject", "sha256"):
        _optional(doc, key, path, _str)
    _strs(doc, "sans", path)
    _optional(doc, "not_after", path, _time)


def _endpoint(value: object, path: str) -> Endpoint:
    doc = _object(value, path)
    served = _optional(doc, "served", path, lambda d, k, p: _served(d[k], f"{p}.{k}"))
    advertised = tuple(_strs(doc, "advertised_by", path)) if "advertised_by" in doc else ()
    return Endpoint(
        service=_str(doc, "service", path),
        port=_int(doc, "port", path),
        mode=_enum(doc, "mode", path, Mode),
        hostnames=tuple(_strs(doc, "hostnames", path)),
        configured=_configured(_field(doc, "configured", path), f"{path}.configured"),
        served=served,
        advertised_by=advertised,
    )


def _configured(value: object, path: str) -> ConfiguredCert:
    doc = _object(value, path)
    return ConfiguredCert(
        cert_file=_optional(doc, "cert_file", path, _str),
        key_file=_optional(doc, "key_file", path, _str),
        sha256=_optional(doc, "sha256", path, _str),
        not_after=_optional(doc, "not_after", path, _time),
        sans=tuple(_strs(doc, "sans", path)),
    )


def _served(value: object, path: str) -> ServedCert:
    doc = _object(value, path)
    return ServedCert(
        sha256=_str(doc, "sha256", path),
        not_after=_time(doc, "not_after", path),
        sans=tuple(_strs(doc, "sans", path)),
        chain_length=_int(doc, "chain_length", path),
        tls_version=_str(doc, "tls_version", path),
    )


def _finding(value: object, path: str) -> Finding:
    doc = _object(value, path)
    return Finding(
        check=_str(doc, "check", path),
        severity=_enum(doc, "severity", path, Severity),
        message=_str(doc, "message", path),
        fix=_str(doc, "fix", path),
        service=_optional(doc, "service", path, _str),
        port=_optional(doc, "port", path, _int),
        hostname=_optional(doc, "hostname", path, _str),
        file=_optional(doc, "file", path, _str),
        line=_optional(doc, "line", path, _int),
    )


def _same_status(doc: dict[str, object], computed: Status, path: str) -> None:
    written = _enum(doc, "status", path, Status)
    if written is not computed:
        raise _ShapeError(
            _at(path, "status"),
            f"says {written.value!r} but its hosts and findings make it {computed.value!r}",
        )


# -- typed fields ----------------------------------------------------------------------------------------


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _ShapeError(path, "expected an object")
    return value


def _field(doc: dict[str, object], key: str, path: str) -> object:
    if key not in doc:
        raise _ShapeError(_at(path, key), "missing")
    return doc[key]


def _str(doc: dict[str, object], key: str, path: str) -> str:
    value = _field(doc, key, path)
    if not isinstance(value, str):
        raise _ShapeError(_at(path, key), "expected a string")
    return value


def _int(doc: dict[str, object], key: str, path: str) -> int:
    value = _field(doc, key, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _ShapeError(_at(path, key), "expected a whole number")
    return value


def _time(doc: dict[str, object], key: str, path: str) -> datetime:
    text = _str(doc, key, path)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _ShapeError(_at(path, key), f"{text!r} is not an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _enum(doc: dict[str, object], key: str, path: str, kind: type[EnumT]) -> EnumT:
    text = _str(doc, key, path)
    try:
        return kind(text)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise _ShapeError(_at(path, key), f"{text!r} is not one of {choices}") from None


def _list(doc: dict[str, object], key: str, path: str) -> list[object]:
    value = _field(doc, key, path)
    if not isinstance(value, list):
        raise _ShapeError(_at(path, key), "expected a list")
    return value


def _strs(doc: dict[str, object], key: str, path: str) -> list[str]:
    values = _list(doc, key, path)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise _ShapeError(f"{_at(path, key)}[{i}]", "expected a string")
    return [str(v) for v in values]


def _optional(
    doc: dict[str, object], key: str, path: str, read: Callable[[dict[str, object], str, str], T]
) -> T | None:
    return None if _field(doc, key, path) is None else read(doc, key, path)


__all__ = ["SCHEMA", "ReportFileError", "load_report", "read_report"]
