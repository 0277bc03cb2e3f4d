"""What certbot's file layout alone says about a configured certificate source, without reading the files.

A config-only tree (an ops repository: configuration in git, certificates and keys on the hosts) names
`/etc/letsencrypt/live/NAME/cert.pem` without holding it. certbot's layout still decides a good deal:
`cert.pem` is the leaf alone, `chain.pem` the intermediates alone, `privkey.pem` a key; a certificate and a
key from two lineages are two issuances; a path in `archive/` is left behind by the next renewal; and a
lineage is named after the first name it was issued for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailcert.catalogue import Where
from mailcert.model import Finding, Severity
from mailcert.pki.names import normalise
from mailcert.services.model import CertSource

_CERTBOT_PATH = re.compile(
    r"^(?P<config>.*)/(?P<area>live|archive)/(?P<name>[^/]+)/(?P<role>cert|chain|fullchain|privkey)"
    r"(?P<number>\d*)\.pem$"
)
_SEQUENCE = re.compile(r"^(?P<base>.+)-\d{4}$")


@dataclass(frozen=True)
class CertbotPath:
    """A path inside certbot's live/ or archive/ folder of a lineage."""

    path: str
    config_dir: str
    area: str  # "live" | "archive"
    lineage: str
    role: str  # cert | chain | fullchain | privkey

    @property
    def live_target(self) -> str:
        """The live/ file certbot keeps current for this role (fullchain for a leaf-only cert)."""
        role = "fullchain" if self.role in ("cert", "chain") else self.role
        return f"{self.config_dir}/live/{self.lineage}/{role}.pem"


def certbot_path(path: str) -> CertbotPath | None:
    """The lineage, area and role of a certbot path; None for any other path."""
    match = _CERTBOT_PATH.match(path)
    if match is None or (match["area"] == "live") == bool(match["number"]):
        return None
    return CertbotPath(path, match["config"], match["area"], match["name"], match["role"])


def layout_findings(source: CertSource, names: Sequence[str], where: Where) -> list[Finding]:
    """Findings certbot's layout decides for a source whose files are not at hand (never reads a file)."""
    at_cert = Where.at(where.service, source.location, where.port)
    at_key = Where.at(where.service, source.key_location or source.location, where.port)
    all_certs = [certbot_path(p) for p in source.cert_files]
    # Postfix chain_files (and combined files) list the key among the certificate files.
    in_files = (
        next((c for c in all_certs if c is not None and c.role == "privkey"), None)
        if source.key_file is None
        else None
    )
    key = certbot_path(source.key_file) if source.key_file else in_files
    certs = [c for c in all_certs if c is None or c is not in_files]
    findings: list[Finding] = []
    first = certs[0] if certs else None
    roles = {c.role for c in certs if c is not None}
    if first is not None and first.role == "cert" and not roles & {"chain", "fullchain"}:
        findings.append(
            at_cert.finding(
                "config.cert-not-fullchain",
                f"{source.setting} names {first.path}, certbot's leaf-only file: the intermediate is not served "
                "(Thunderbird/Android: unknown issuer; Outlook may fetch it itself)",
                f"set {source.setting} to {first.live_target}",
            )
        )
    elif first is not None and first.role == "chain":
        findings.append(
            at_cert.finding(
                "cert.leaf-not-first",
                f"{source.setting} names {first.path}, certbot's chain.pem: it holds the intermediates only, not "
                "the leaf, so the key matches no certificate in it and the service fails to load TLS",
                f"set {source.setting} to {first.live_target}",
            )
        )
    elif first is not None and first.role == "privkey":
        findings.append(
            at_cert.finding(
                "cert.unparsable",
                f"{source.setting} names {first.path}, certbot's private key, not a certificate "
                "(certificate and key settings swapped?)",
                f"set {source.setting} to {first.config_dir}/live/{first.lineage}/fullchain.pem",
            )
        )
    if key is not None and key.role != "privkey":
        findings.append(
            at_key.finding(
                "key.missing",
                f"{source.key_setting or 'the key setting'} names {key.path}, certbot's {key.role}.pem, which "
                "holds no private key",
                f"set {source.key_setting or 'the key setting'} to {key.config_dir}/live/{key.lineage}/privkey.pem",
            )
        )
    findings += _lineage_pair(certs, key, source, at_key)
    findings += _archive_paths(certs, key if key is not in_files else None, source, at_cert, at_key)
    if in_files is not None:
        findings += _archive_paths([in_files], None, source, at_cert, at_cert)
    findings += _lineage_names(certs, names, source, at_cert)
    return findings


def _lineage_pair(
    certs: Sequence[CertbotPath | None], key: CertbotPath | None, source: CertSource, at_key: Where
) -> list[Finding]:
    first = certs[0] if certs else None
    if first is None or key is None or key.role != "privkey" or first.lineage == key.lineage:
        return []
    return [
        at_key.finding(
            "key.mismatch",
            f"{source.key_setting or 'the key setting'} names {key.path} (lineage {key.lineage}) for the "
            f"certificate {first.path} (lineage {first.lineage}): two issuances, so the key does not belong to "
            "the certificate and the service cannot do TLS with this pair",
            f"use the key from the same lineage: {first.config_dir}/live/{first.lineage}/privkey.pem",
        )
    ]


def _archive_paths(
    certs: Sequence[CertbotPath | None],
    key: CertbotPath | None,
    source: CertSource,
    at_cert: Where,
    at_key: Where,
) -> list[Finding]:
    findings: list[Finding] = []
    pairs = [(c, source.setting, at_cert) for c in certs]
    pairs.append((key, source.key_setting or "the key setting", at_key))
    for path, setting, at in pairs:
        if path is None or path.area != "archive":
            continue
        findings.append(
            at.finding(
                "renewal.unmanaged-path",
                f"{setting} uses {path.path} inside certbot's archive/ of lineage {path.lineage}: renewals write "
                f"a new numbered file and move live/{path.lineage}/ to it, so {at.service or 'the service'} "
                "keeps this one until it expires",
                f"set {setting} to {path.live_target} (the file certbot keeps current), then reload",
            )
        )
    return findings


def _lineage_names(
    certs: Sequence[CertbotPath | None], names: Sequence[str], source: CertSource, at_cert: Where
) -> list[Finding]:
    first = certs[0] if certs else None
    if first is None or not names:
        return []
    match = _SEQUENCE.match(first.lineage)
    base = normalise(match["base"] if match else first.lineage)
    wanted = [normalise(n) for n in names]
    # certbot names a lineage after its first name (`example.com` for `*.example.com`): a name clients use
    # that is the lineage name, or one label below it, is plausibly covered; anything else is worth a look.
    if any(n == base or n.split(".", 1)[-1] == base for n in wanted):
        return []
    return [
        at_cert.finding(
            "cert.name-mismatch",
            f"{source.setting} uses certbot lineage {first.lineage}, named after none of the names clients use "
            f"here ({', '.join(names)}): unless it was issued for them too, clients see a name mismatch",
            f"check on the host: `openssl x509 -in {first.path} -noout -ext subjectAltName`; if a name is "
            "missing, use a lineage issued for it",
            hostname=names[0],
            severity=Severity.WARNING,
        )
    ]
