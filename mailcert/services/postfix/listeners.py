"""From master.cf entries to listeners: port, STARTTLS or implicit TLS, certificates, protocols, AUTH.

Decisions follow smtpd.c: a non-empty smtpd_tls_security_level overrides smtpd_use_tls/smtpd_enforce_tls;
wrapper mode forces TLS; smtpd_tls_chain_files, when non-empty, replaces the legacy cert/key pairs; the
mandatory protocol list applies when TLS is required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailcert.catalogue import Where
from mailcert.facts import HostFiles
from mailcert.model import Finding, Mode, Severity
from mailcert.ports import names_speaking
from mailcert.services.model import CertSource, Listener, Location, PemLayout
from mailcert.services.postfix.config import PostfixConfig, file_list, is_yes
from mailcert.services.postfix.syntax import MasterEntry

STANDARD_PORTS = names_speaking("smtp")
SUBMISSION_NAMES = frozenset({"submission", "submissions", "smtps", "ssmtp"})
_LEGACY_PAIRS = (
    ("smtpd_tls_cert_file", "smtpd_tls_key_file"),
    ("smtpd_tls_eccert_file", "smtpd_tls_eckey_file"),
    ("smtpd_tls_dcert_file", "smtpd_tls_dkey_file"),
)
_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_PROTOCOL_HEX = {0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2"}
_PROTOCOL_HEX[0x0304] = "TLSv1.3"
_LEVELS_REQUIRING_TLS = ("encrypt", "fingerprint", "verify", "secure")


def finding(
    check: str,
    message: str,
    fix: str,
    location: Location | None,
    *,
    port: int | None = None,
    severity: Severity | None = None,
    hostname: str | None = None,
) -> Finding:
    return Where.at("postfix", location, port).finding(
        check, message, fix, hostname=hostname, severity=severity
    )


def services_db(files: HostFiles) -> dict[str, int]:
    """TCP service names → ports from the host's /etc/services, then the standard mail names."""
    ports: dict[str, int] = {}
    text = files.read_config("/etc/services").text or ""
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[1].endswith("/tcp") and fields[1][:-4].isdigit():
            for name in (fields[0], *fields[2:]):
                ports.setdefault(name, int(fields[1][:-4]))
    for name, port in STANDARD_PORTS.items():
        ports.setdefault(name, port)
    return ports


def split_service_name(name: str) -> tuple[str | None, str]:
    """`[host:]port` → (host, port text): "127.0.0.1:submission", "[::1]:2525", "smtps"."""
    if name.startswith("["):
        end = name.find("]")
        if end > 0 and name[end + 1 : end + 2] == ":":
            return name[1:end], name[end + 2 :]
    if ":" in name:
        host, _, port = name.rpartition(":")
        return host, port
    return None, name


def resolve_port(port_text: str, ports: dict[str, int]) -> int | None:
    if port_text.isdigit():
        number = int(port_text)
        return number if 0 < number < 65536 else None
    return ports.get(port_text)


def allowed_protocols(spec: str) -> list[str] | None:
    """Protocols a `smtpd_tls_protocols` value allows (tls_proto_mask_lims), None when Postfix rejects it."""
    include: set[str] = set()
    exclude: set[str] = set()
    floor, ceiling = 0, len(_PROTOCOLS) - 1
    for token in re.split(r"[\s,:]+", spec):
        if not token:
            continue
        if token.startswith((">=", "<=")):
            index = _protocol_index(token[2:])
            if index is None:
                return None
            if token.startswith(">="):
                floor = index
            else:
                ceiling = index
            continue
        name = _protocol_name(token.lstrip("!"))
        if name is None:
            return None
        (exclude if token.startswith("!") else include).add(name)
    return [
        p
        for i, p in enumerate(_PROTOCOLS)
        if floor <= i <= ceiling and p not in exclude and (not include or p in include)
    ]


def _protocol_name(text: str) -> str | None:
    return next((p for p in _PROTOCOLS if p.lower() == text.lower()), None)


def _protocol_index(text: str) -> int | None:
    name = _protocol_name(text)
    if name is None and re.fullmatch(r"0x[0-9a-fA-F]{1,4}", text):
        number = int(text, 16)
        name = _PROTOCOL_HEX.get(number)
        if name is None:  # a version this table does not know: below SSLv3 or above TLS 1.3
            return 0 if number < 0x0300 else len(_PROTOCOLS)
    return _PROTOCOLS.index(name) if name else None


@dataclass
class _View:
    """Values of one smtpd service, collecting the problems Postfix would stop on as findings."""

    config: PostfixConfig
    key: str | None
    port: int | None
    findings: list[Finding] = field(default_factory=list)

    def where(self, name: str) -> Location | None:
        return self.config.setting(name, self.key).location

    def is_set(self, name: str) -> bool:
        return self.config.setting(name, self.key).origin in ("override", "main.cf")

    def text(self, name: str) -> str:
        value, error = self.config.try_value(name, self.key)
        if error:
            self.findings.append(
                finding(
                    "config.syntax",
                    f"{name} cannot be expanded ({error}); Postfix stops with 'macro processing error'",
                    f"correct the $ references in {name} (use $$ for a literal $)",
                    self.where(name),
                    port=self.port,
                )
            )
        return value.strip()

    def flag(self, name: str) -> bool:
        value = self.text(name)
        parsed = is_yes(value)
        if parsed is None:
            self.findings.append(
                finding(
                    "config.syntax",
                    f"{name} = {value!r} is not a boolean; smtpd stops with 'bad boolean configuration'",
                    f"set {name} to yes or no",
                    self.where(name),
                    port=self.port,
                )
            )
        return bool(parsed)


@dataclass(frozen=True)
class SmtpdTls:
    """The TLS-relevant decisions for one smtpd service."""

    wrappermode: bool
    use_tls: bool
    enforce_tls: bool
    level: str
    certificates: tuple[CertSource, ...]
    protocols_setting: str
    allowed: tuple[str, ...] | None
    sasl: bool
    auth_only: bool


def evaluate(view: _View) -> SmtpdTls:
    wrapper = view.flag("smtpd_tls_wrappermode")
    use, enforce = view.flag("smtpd_use_tls"), view.flag("smtpd_enforce_tls")
    level_text = view.text("smtpd_tls_security_level")
    level = level_text.lower()
    if level:
        if level in _LEVELS_REQUIRING_TLS:
            use = enforce = True
        elif level == "may":
            use, enforce = True, False
        elif level == "none":
            use = enforce = False
        else:
            view.findings.append(
                finding(
                    "config.syntax",
                    f'smtpd_tls_security_level = {level_text!r} is not a server TLS level; smtpd stops with "Invalid '
                    f'TLS level" and this port accepts connections but serves nothing',
                    "use none, may or encrypt",
                    view.where("smtpd_tls_security_level"),
                    port=view.port,
                )
            )
            use = enforce = False
    enforce = wrapper or enforce
    use = use or enforce
    protocols_setting = "smtpd_tls_mandatory_protocols" if enforce else "smtpd_tls_protocols"
    allowed = allowed_protocols(view.text(protocols_setting))
    return SmtpdTls(
        wrappermode=wrapper,
        use_tls=use,
        enforce_tls=enforce,
        level=level,
        certificates=certificate_sources(view),
        protocols_setting=protocols_setting,
        allowed=tuple(allowed) if allowed is not None else None,
        sasl=view.flag("smtpd_sasl_auth_enable"),
        auth_only=view.flag("smtpd_tls_auth_only"),
    )


def certificate_sources(view: _View) -> tuple[CertSource, ...]:
    ca_file = view.text("smtpd_tls_CAfile") or None
    chain = file_list(view.text("smtpd_tls_chain_files"))
    if chain:
        source = CertSource(
            cert_files=tuple(chain),
            key_file=None,
            setting="smtpd_tls_chain_files",
            location=view.where("smtpd_tls_chain_files"),
            layout=PemLayout.KEY_FIRST,
            ca_file=ca_file,
        )
        return (source,)
    sources: list[CertSource] = []
    for cert_name, key_name in _LEGACY_PAIRS:
        cert = view.text(cert_name)
        if not cert or cert == "none":
            continue
        key = view.text(key_name) or cert
        combined = key == cert
        sources.append(
            CertSource(
                cert_files=(cert,),
                key_file=None if combined else key,
                setting=cert_name,
                location=view.where(cert_name),
                layout=PemLayout.COMBINED if combined else PemLayout.SEPARATE,
                key_setting=key_name,
                key_location=view.where(key_name),
                ca_file=ca_file,
            )
        )
    return tuple(sources)


def smtpd_listener(
    config: PostfixConfig, entry: MasterEntry, tls_key: str, port: int
) -> tuple[Listener, SmtpdTls, list[Finding]]:
    """The listener of an inet smtpd (or postscreen) entry; `tls_key` names the entry whose -o apply."""
    view = _View(config, tls_key, port)
    tls = evaluate(view)
    allowed = [p for p in tls.allowed or () if p.startswith("TLS")]
    listener = Listener(
        service="postfix",
        name=split_service_name(entry.service)[1],
        port=port,
        mode=Mode.IMPLICIT if tls.wrappermode else Mode.STARTTLS,
        tls_enabled=tls.use_tls,
        certificates=tls.certificates,
        location=Location(config.master_path, entry.line),
        min_tls=allowed[0] if allowed else None,
        plaintext_auth=tls.sasl and not tls.enforce_tls and not tls.auth_only,
    )
    return listener, tls, view.findings
