"""Findings about a Dovecot configuration itself: what Dovecot refuses, misreads, or silently ignores."""

from __future__ import annotations

import re

from mailcert.catalogue import Where
from mailcert.model import Finding, Severity
from mailcert.services.dovecot import settings as known
from mailcert.services.dovecot.config import DovecotConfig
from mailcert.services.dovecot.filters import Filter, FilterConflictError, Query, Setting, wildcard_match
from mailcert.services.model import Location

_PATH_LIKE = re.compile(r"^(/|\./|\.\./)\S*$|^\S+\.(pem|crt|cer|key|der)$", re.IGNORECASE)


def finding(
    check: str,
    message: str,
    fix: str,
    *,
    location: Location | None = None,
    port: int | None = None,
    severity: Severity | None = None,
) -> Finding:
    return Where.at("dovecot", location, port).finding(check, message, fix, severity=severity)


def display(setting: Setting) -> str:
    """A value fit for a report: passwords and inline (heredoc) data are never shown."""
    if "password" in setting.key or "password" in setting.value.lower() or "PRIVATE KEY" in setting.value:
        return "(hidden)"
    if setting.heredoc:
        return "(inline text)"
    return repr(setting.shown)


def looks_like_path(value: str) -> bool:
    return "-----BEGIN" not in value and bool(_PATH_LIKE.match(value.strip()))


def config_findings(config: DovecotConfig) -> list[Finding]:
    """Everything wrong with the configuration as written (listener-level findings are made elsewhere)."""
    out = [
        finding(
            problem.check,
            problem.message,
            problem.fix,
            location=Location(problem.file, problem.line) if problem.file else None,
            severity=Severity.WARNING if problem.warning else None,
        )
        for problem in config.problems
    ]
    out += _override_findings(config)
    out += [conflict_finding(c) for c in config.conflicts()]
    out += _shadowed_local_names(config)
    if config.version == "2.3":
        out += _missing_lt(config)
    out += _ssl_ca_misuse(config)
    return out


def conflict_finding(conflict: FilterConflictError, port: int | None = None) -> Finding:
    later = conflict.later.settings[conflict.key]
    earlier = conflict.earlier.settings[conflict.key]
    return finding(
        "config.syntax",
        f"Dovecot cannot choose {conflict.key} for {describe_query(conflict.query)}: {conflict.later.describe()} "
        f"and {conflict.earlier.describe()} both set it and neither is inside the other; Dovecot fails with "
        f"'Conflict in setting {conflict.key}' (earlier value {display(earlier)}, here {display(later)})",
        f"set {conflict.key} in one block only, or nest the blocks (local → local_name → remote → protocol), "
        "e.g. `local_name mail.example.org { protocol imap { … } }`",
        location=later.location,
        port=port,
    )


def describe_query(query: Query) -> str:
    parts = [
        f"local_name {query.local_name}" if query.local_name else "",
        f"local {query.local}" if query.local else "",
        f"remote {query.remote}" if query.remote else "",
        f"protocol {query.protocol}" if query.protocol else "",
    ]
    return "connections with " + ", ".join(p for p in parts if p) if any(parts) else "all connections"


def _override_findings(config: DovecotConfig) -> list[Finding]:
    out = []
    for item in config.overrides:
        earlier, later = item.earlier, item.later
        if not known.is_tls_setting(later.key):
            continue
        if item.global_after_filter:
            out.append(
                finding(
                    "config.overridden",
                    f"Global setting {later.key} won't change the setting inside an earlier filter at "
                    f"{earlier.location.file} line {earlier.location.line} (that block keeps {display(earlier)}; "
                    "Dovecot 2.3 lets a filter win whatever the order)",
                    f"if the block should use {display(later)} too, remove {earlier.key} from it; otherwise move "
                    f"this global {later.key} before {earlier.location.file} line {earlier.location.line}",
                    location=later.location,
                )
            )
        elif earlier.shown != later.shown:
            out.append(
                finding(
                    "config.overridden",
                    f"{later.key} is set twice in {item.scope}: {earlier.location.file} line "
                    f"{earlier.location.line} sets {display(earlier)}, this line sets {display(later)}; Dovecot uses "
                    "the later one",
                    f"keep one {later.key} line (the value you mean) and delete the other",
                    location=later.location,
                )
            )
    return out


def _shadowed_local_names(config: DovecotConfig) -> list[Finding]:
    """A local_name block whose names are matched by another block that wins (2.3: first; 2.4: last)."""
    blocks = [f for f in config.filters if f.local_name is not None and not f.unresolved]
    out: list[Finding] = []
    modelled = known.modelled(config.version)
    for block in blocks:
        for name in block.names:
            winner = _winner(config, block, name)
            if winner is None:
                continue
            shared = sorted(k for k in block.settings if k in winner.settings and k in modelled)
            if not shared:
                continue
            rule = (
                "the first matching block wins in Dovecot 2.3"
                if config.version == "2.3"
                else "the last matching block wins in Dovecot 2.4"
            )
            where = "before" if config.version == "2.3" else "after"
            out.append(
                finding(
                    "config.overridden",
                    f"local_name {name} never gets the {', '.join(shared)} of this block: {winner.describe()} also "
                    f"matches {name} and {rule}",
                    f"move this local_name block {where} {winner.describe()} (specific names "
                    f"{'first' if where == 'before' else 'last'})",
                    location=block.settings[shared[0]].location,
                )
            )
    return out


def _winner(config: DovecotConfig, block: Filter, name: str) -> Filter | None:
    same = [
        b
        for b in config.candidates(Query(local_name=name))
        if b.local_name is not None
        and not b.unresolved
        and b is not block
        and (b.local, b.remote, b.protocol) == (block.local, block.remote, block.protocol)
        and any(wildcard_match(pattern, name) for pattern in b.names)
    ]
    if config.version == "2.3":
        before = [b for b in same if b.order < block.order]
        return before[0] if before else None
    after = [b for b in same if b.order > block.order]
    return after[-1] if after else None


def _missing_lt(config: DovecotConfig) -> list[Finding]:
    out = []
    for flt in config.filters:
        for key in known.FILE_VALUE_23:
            setting = flt.settings.get(key)
            if setting is None or setting.file_ref or setting.heredoc or not looks_like_path(setting.value):
                continue
            out.append(
                finding(
                    "config.dovecot-missing-lt",
                    f"{key} value {setting.value!r} is a path without '<': Dovecot 2.3 takes it as the PEM data "
                    f"itself and the login processes die {_load_error(key, setting.value)}",
                    f"{key} = <{setting.value}",
                    location=setting.location,
                )
            )
    return out


def _load_error(key: str, value: str) -> str:
    if key in ("ssl_cert", "ssl_alt_cert"):  # the 2.3.19 message, iostream-openssl-common.c
        return (
            f"with \"Can't load {key}: There is no valid PEM certificate. (You probably forgot '<' from "
            f'{key}=<{value})"'
        )
    return f"when they load {key}"


def _ssl_ca_misuse(config: DovecotConfig) -> list[Finding]:
    ca_key, verify_key = (
        ("ssl_server_ca_file", "ssl_server_request_client_cert")
        if config.version == "2.4"
        else ("ssl_ca", "ssl_verify_client_cert")
    )
    cert_key = "ssl_server_cert_file" if config.version == "2.4" else "ssl_cert"
    out = []
    for flt in config.filters:
        ca = flt.settings.get(ca_key)
        if ca is None or not ca.value:
            continue
        verify = _scoped(config, flt, verify_key)
        asks = verify is not None and verify.value == "yes"
        consequence = (
            f"{verify_key} = yes, so clients will be asked for certificates (and CRLs are required unless "
            "ssl_require_crl = no)"
            if asks
            else f"{verify_key} is not yes, so it only ever completes the served chain by accident"
        )
        out.append(
            finding(
                "config.dovecot-ssl-ca-misuse",
                f"{ca_key} is for verifying client certificates, not for the server's intermediates; {consequence}",
                f"put the intermediate certificates in {cert_key} after the server certificate (certbot: use "
                f"fullchain.pem) and remove {ca_key} unless you really verify client certificates",
                location=ca.location,
            )
        )
    return out


def _scoped(config: DovecotConfig, flt: Filter, key: str) -> Setting | None:
    return flt.settings.get(key) or config.root.settings.get(key)
