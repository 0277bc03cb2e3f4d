"""Certificates Exim picks by SNI: tls_certificate expansions that use $tls_in_sni.

Exim expands the certificate options again during the handshake when `tls_in_sni` appears in them; before SNI
arrives it uses the expansion with $tls_in_sni empty, which must still name a certificate (the spec: "must have
a default"). The per-name certificates are found by expanding with a probe name, turning the probe into a glob
(`/etc/exim/certs/${tls_in_sni}.pem` → `/etc/exim/certs/*.pem`), and keeping each file the real expansion for
that name (with the host's files for `exists`) selects.
"""

from __future__ import annotations

from mailcert.facts import HostFiles
from mailcert.services.exim.expand import CannotEvaluateError, expand
from mailcert.services.exim.lists import exim_list
from mailcert.services.model import CertSource, Location, PemLayout, SniCert

_PROBE = "sni-probe.mailcert.invalid"


def _with_sni(variables: dict[str, str], name: str) -> dict[str, str]:
    return {**variables, "tls_in_sni": name, "tls_sni": name}


def sni_without_default(text: str, variables: dict[str, str], files: HostFiles) -> bool:
    """True when the path is built straight from the SNI: without SNI it is the same path with the name left
    out (scenario 27: /etc/exim/certs/${tls_in_sni}.pem gives /etc/exim/certs/.pem), or nothing at all."""
    try:
        without = expand(text, variables, files.exists)
        with_sni = expand(text, _with_sni(variables, _PROBE), lambda _: True)
    except CannotEvaluateError:
        return False
    return not without.strip() or (_PROBE in with_sni and with_sni.replace(_PROBE, "") == without)


def sni_certificates(
    cert_text: str,
    key_text: str,
    variables: dict[str, str],
    files: HostFiles,
    where: tuple[Location | None, Location | None],
) -> tuple[SniCert, ...]:
    """One SniCert per (name, list position) whose certificate file exists on the host."""
    try:
        patterns = exim_list(expand(cert_text, _with_sni(variables, _PROBE), lambda _: True))
    except CannotEvaluateError:
        return ()
    found: list[SniCert] = []
    for index, pattern in enumerate(patterns):
        prefix, probe, suffix = pattern.partition(_PROBE)
        if not probe or _PROBE in suffix or any(c in prefix + suffix for c in "*?["):
            continue
        for path in _matching_paths(files, prefix, suffix):
            name = path[len(prefix) : len(path) - len(suffix)]
            source = _source_for(name, index, path, cert_text, key_text, variables, files, where)
            if source is not None:
                found.append(SniCert(names=(name,), source=source))
    return tuple(found)


def _matching_paths(files: HostFiles, prefix: str, suffix: str) -> list[str]:
    """Existing paths prefix + NAME + suffix where NAME is part of one path component. (Listed by hand:
    HostFiles.glob would treat a `*` in a matched directory name, as cPanel's `*.example.org`, as a pattern.)"""
    parent, _, head = prefix.rpartition("/")
    tail, slash, remainder = suffix.partition("/")
    paths = []
    for entry in files.listdir(parent or "/"):
        if len(entry) > len(head) + len(tail) and entry.startswith(head) and entry.endswith(tail):
            path = f"{parent}/{entry}{slash}{remainder}"
            if files.exists(path):
                paths.append(path)
    return paths


def _source_for(
    name: str,
    index: int,
    path: str,
    cert_text: str,
    key_text: str,
    variables: dict[str, str],
    files: HostFiles,
    where: tuple[Location | None, Location | None],
) -> CertSource | None:
    if not name or "/" in name:
        return None
    try:
        certs = exim_list(expand(cert_text, _with_sni(variables, name), files.exists))
        keys = exim_list(expand(key_text, _with_sni(variables, name), files.exists))
    except CannotEvaluateError:
        return None
    if index >= len(certs) or certs[index] != path:
        return None  # exim picks another file for this name (e.g. an exists{} test failed)
    key = keys[index] if index < len(keys) else None
    return CertSource(
        cert_files=(path,),
        key_file=key,
        setting="tls_certificate",
        location=where[0],
        layout=PemLayout.SEPARATE if key else PemLayout.COMBINED,
        key_setting="tls_privatekey" if key else None,
        key_location=where[1] if key else None,
    )
