"""Postfix `tls_server_sni_maps`: which certificate each SNI name gets, and whether an indexed table is stale.

Indexed tables (hash, btree, lmdb, cdb, dbm, sdbm) hold the PEM contents of the listed files as they were
when `postmap -F` ran; the linter reads the source text file beside them and compares modification times:
an index older than its source or than a certificate file it names serves an old certificate.
texthash: and inline: tables are read when smtpd opens them, so they are never stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailcert.catalogue import default_severity
from mailcert.facts import HostFiles
from mailcert.model import Finding
from mailcert.quoting import shell_command
from mailcert.services.model import CertSource, Location, PemLayout, SniCert
from mailcert.services.postfix.config import file_list
from mailcert.services.postfix.syntax import WHITESPACE, logical_lines, strip_braces

# Indexed table types and the file(s) postmap writes beside the source.
# What an SNI table's finding says when its postmap output is absent (a config-only tree keeps no such output).
NEVER_BUILT = "has never been built"

_INDEX_SUFFIXES = {
    "hash": ".db",
    "btree": ".db",
    "lmdb": ".lmdb",
    "cdb": ".cdb",
    "dbm": ".pag",
    "sdbm": ".pag",
}
_TEXT_TYPES = ("texthash",)


@dataclass
class SniResult:
    certificates: list[SniCert] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)


def table_names(value: str) -> list[str]:
    """`type:name` tables of a Postfix map list (commas or whitespace between; `inline:{...}` kept whole)."""
    return _brace_aware(value)


def _brace_aware(value: str) -> list[str]:
    found: list[str] = []
    current: list[str] = []
    level = 0
    for ch in value:
        if ch == "{":
            level += 1
        elif ch == "}":
            level = max(0, level - 1)
        if level == 0 and (ch in WHITESPACE or ch == ","):
            if current:
                found.append("".join(current))
                current = []
            continue
        current.append(ch)
    if current:
        found.append("".join(current))
    return found


def read_sni_maps(
    files: HostFiles, maps_value: str, *, setting_location: Location | None, ca_file: str | None
) -> SniResult:
    """The SNI certificates of every table in `maps_value` (expanded tls_server_sni_maps)."""
    result = SniResult()
    for table in table_names(maps_value):
        kind, _, name = table.partition(":")
        if kind == "proxy":
            kind, _, name = name.partition(":")
        if kind == "inline" and name.startswith("{"):
            for key, files_value in _inline_entries(name):
                result.certificates.append(_sni_cert(key, files_value, setting_location, ca_file))
            continue
        if kind not in _INDEX_SUFFIXES and kind not in _TEXT_TYPES:
            continue  # regexp, pcre, ldap, sql, ...: names are patterns or remote; not read here
        text = files.read_config(name)
        if text.text is None:
            result.findings.append(_unreadable_source(table, name, text.error, setting_location))
            continue
        result.files_read.append(name)
        rebuild = f"postmap -F {kind}:{name}" if kind in _INDEX_SUFFIXES else None
        for key, files_value, line in _text_entries(text.text):
            result.certificates.append(_sni_cert(key, files_value, Location(name, line), ca_file, rebuild))
        if kind in _INDEX_SUFFIXES:
            result.findings += _staleness(files, table, kind, name, result.certificates)
    return result


def _sni_cert(
    key: str, files_value: str, location: Location | None, ca_file: str | None, rebuilt_by: str | None = None
) -> SniCert:
    source = CertSource(
        cert_files=tuple(file_list(files_value)),
        key_file=None,
        setting="tls_server_sni_maps",
        location=location,
        layout=PemLayout.KEY_FIRST,
        ca_file=ca_file,
        rebuilt_by=rebuilt_by,
    )
    return SniCert(names=(key.lower(),), source=source)


def _text_entries(text: str) -> list[tuple[str, str, int]]:
    """(key, value, line) of a postmap source file: `key value`, comments and continuations as in main.cf."""
    entries: list[tuple[str, str, int]] = []
    lines, _orphans = logical_lines(text)
    for logical in lines:
        parts = logical.text.split(None, 1)
        if len(parts) == 2 and parts[1].strip(WHITESPACE):
            entries.append((parts[0], parts[1].strip(WHITESPACE), logical.line))
    return entries


def _inline_entries(braced: str) -> list[tuple[str, str]]:
    """`{ key=value, { key = value with, commas } }` of an inline: table."""
    inner, _error = strip_braces(braced)
    entries: list[tuple[str, str]] = []
    for element in _brace_aware(inner):
        body = strip_braces(element)[0] if element.startswith("{") else element
        key, eq, value = body.partition("=")
        if eq and key.strip(WHITESPACE):
            entries.append((key.strip(WHITESPACE), value.strip(WHITESPACE)))
    return entries


def _staleness(
    files: HostFiles, table: str, kind: str, source: str, certificates: list[SniCert]
) -> list[Finding]:
    index_path = source + _INDEX_SUFFIXES[kind]
    index = files.stat(index_path)
    source_facts = files.stat(source)
    fix = f"run `{shell_command('postmap', '-F', table)}` and `postfix reload`, and add both to the certificate deploy hook"
    if not index.exists or index.mtime is None:
        return [
            _stale(
                f"SNI table {table} {NEVER_BUILT}: {index_path} does not exist, so smtpd cannot open "
                f"it and TLS fails for every client",
                fix,
                source,
                None,
            )
        ]
    findings: list[Finding] = []
    if source_facts.mtime is not None and source_facts.mtime > index.mtime:
        findings.append(
            _stale(
                f"SNI table {index_path} is older than its source {source}: edits made since `postmap -F` "
                f"are not served",
                fix,
                source,
                None,
            )
        )
    for sni in certificates:
        if sni.source.location is None or sni.source.location.file != source:
            continue
        for cert_file in sni.source.cert_files:
            facts = files.stat(cert_file)
            if facts.exists and facts.mtime is not None and facts.mtime > index.mtime:
                findings.append(
                    _stale(
                        f"SNI table {index_path} embeds the contents {cert_file} had when `postmap -F` ran; "
                        f"the file has changed since (renewed?), so clients asking for {sni.names[0]} still "
                        f"get the old certificate",
                        fix,
                        source,
                        sni.source.location.line,
                        hostname=sni.names[0].lstrip("."),
                    )
                )
                break
    return findings


def _stale(message: str, fix: str, file: str, line: int | None, hostname: str | None = None) -> Finding:
    return Finding(
        check="tls.stale",
        severity=default_severity("tls.stale"),
        message=message,
        fix=fix,
        service="postfix",
        hostname=hostname,
        file=file,
        line=line,
    )


def _unreadable_source(table: str, path: str, error: str | None, location: Location | None) -> Finding:
    return Finding(
        check="config.syntax",
        severity=default_severity("config.syntax"),
        message=f"tls_server_sni_maps names {table}, but its source file {path} cannot be read ({error}); "
        f"SNI certificates cannot be checked",
        fix=f"create {path} (lines `name key-and-chain-files`) and run `{shell_command('postmap', '-F', table)}`, "
        "or remove the table",
        service="postfix",
        file=location.file if location else path,
        line=location.line if location else None,
    )
