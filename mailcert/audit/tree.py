"""Config-only trees: `lint ROOT` of an ops repository that keeps configuration in git and certificates on hosts.

A tree that holds none of the certificate and key files its configuration names is a config-only tree: each
absent file is one `config.file-not-in-tree` (info) finding, and what certbot's layout decides without the
files is still decided (checks/layout.py). A tree that holds any of them — a full copy of a host, or `/` —
is linted exactly as a host is: a file missing there is `cert.missing` / `key.missing`, as in `audit`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from mailcert.catalogue import Where, default_severity
from mailcert.checks.certs import CheckOptions
from mailcert.checks.files import FileCache, SourceResult, check_cert_source
from mailcert.checks.layout import layout_findings
from mailcert.model import ConfiguredCert, Finding
from mailcert.services.model import CertSource, Listener, ServiceConfig
from mailcert.services.postfix.sni import NEVER_BUILT


def referenced_files(services: Iterable[ServiceConfig]) -> list[str]:
    """Every certificate and key file the services' listeners name, in configuration order."""
    paths: dict[str, None] = {}
    for service in services:
        for listener in service.listeners:
            if not listener.tls_enabled:
                continue
            for source in (*listener.certificates, *(sni.source for sni in listener.sni)):
                for path in (*source.cert_files, source.key_file):
                    if path:
                        paths.setdefault(path, None)
    return list(paths)


def is_config_only(cache: FileCache, services: Sequence[ServiceConfig]) -> bool:
    """True when the tree names certificate or key files and holds none of them."""
    paths = referenced_files(services)
    return bool(paths) and not any(cache.pem(path).exists for path in paths)


class ConfigOnlyTree:
    """Checks the certificate sources of a config-only tree; says once per file that it is not in the tree."""

    def __init__(self, cache: FileCache, *, names_given: bool) -> None:
        self.cache = cache
        self.names_given = names_given  # --hostname / the inventory's names, not the config's own
        self.reported: set[str] = set()

    def unreached_sni(
        self, listener: Listener, sni_names: Sequence[Sequence[str]], names: Sequence[str]
    ) -> list[Finding]:
        """SNI entries no name clients use selects (`sni_names[i]`: the names that reach `listener.sni[i]`).

        With the files at hand the default certificate's own name checks show what such clients get;
        without them this is all that can be said. Only for names given (the config's own include the keys).
        """
        if not self.names_given or not names:
            return []
        findings: list[Finding] = []
        for sni, reached in zip(listener.sni, sni_names, strict=True):
            if reached:
                continue
            at = Where.at(listener.service, sni.source.location, listener.port)
            findings.append(
                at.finding(
                    "config.overridden",
                    f"SNI entry {', '.join(sni.names)} ({sni.source.setting}) matches none of the names clients "
                    f"use on port {listener.port} ({', '.join(names)}): no client selects it, each gets the "
                    "default certificate",
                    "correct the SNI name (a typo?) or remove the entry; or add the name to --hostname / "
                    "mailcert_hostnames if clients use it",
                )
            )
        return findings

    def check_source(
        self, source: CertSource, names: Sequence[str], opts: CheckOptions, where: Where
    ) -> SourceResult:
        absent = [p for p in (*source.cert_files, source.key_file) if p and not self.cache.pem(p).exists]
        if not absent:  # a config-only tree holds none of them; kept for safety should one appear
            return check_cert_source(source, self.cache, names, opts, where)
        at = Where.at(where.service, source.location, where.port)
        findings: list[Finding] = []
        for path in absent:
            if path in self.reported:
                continue
            self.reported.add(path)
            setting = source.key_setting if path == source.key_file and source.key_setting else source.setting
            at_path = (
                Where.at(where.service, source.key_location, where.port)
                if path == source.key_file and source.key_location
                else at
            )
            findings.append(
                at_path.finding(
                    "config.file-not-in-tree",
                    f"{path} ({setting}) lives on the host; not in this tree: its contents (names, expiry, "
                    "chain, key pair) are not checked here",
                    "nothing to change in the tree; `mailcert audit` checks the file on the host "
                    "(`lint --require-files` treats an absent file as missing)",
                )
            )
        findings += layout_findings(source, names, where)
        configured = ConfiguredCert(cert_file=source.leaf_file, key_file=source.private_key_file)
        return SourceResult(configured, tuple(findings), ())


def built_tables_on_host(findings: Sequence[Finding]) -> list[Finding]:
    """A Postfix SNI table's postmap output is built on the host (installers and deploy hooks run `postmap -F`),
    not kept with the configuration: in a config-only tree its absence is the tree's, like a certificate's."""
    out: list[Finding] = []
    for finding in findings:
        if finding.check == "tls.stale" and finding.service == "postfix" and NEVER_BUILT in finding.message:
            finding = replace(
                finding,
                check="config.file-not-in-tree",
                severity=default_severity("config.file-not-in-tree"),
                message=f"the postmap output of {finding.file} lives on the host; not in this tree: whether the "
                "SNI table is built and current is not checked here",
                fix="nothing to change in the tree; `mailcert audit` checks the table on the host",
            )
        out.append(finding)
    return out


def prefer_renewal_findings(findings: Sequence[Finding]) -> list[Finding]:
    """certbot's own files (renewal/NAME.conf in the tree) decide `renewal.unmanaged-path` with more to say
    than the layout does: keep only the last finding for each (check, file, line) of that check."""
    last: dict[tuple[str | None, int | None], int] = {}
    for index, finding in enumerate(findings):
        if finding.check == "renewal.unmanaged-path":
            last[(finding.file, finding.line)] = index
    return [
        f
        for index, f in enumerate(findings)
        if f.check != "renewal.unmanaged-path" or last[(f.file, f.line)] == index
    ]
