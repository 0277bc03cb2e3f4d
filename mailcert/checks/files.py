"""Checks on the certificate and key files a listener is configured with: present, parseable, in the order
the service reads them, key matching the leaf, key usable and private, and the chain they would serve."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cryptography import x509

from mailcert.catalogue import Where
from mailcert.checks.certs import CheckOptions, check_chain
from mailcert.facts import BlockKind, FileFacts, HostFiles, PemBlock
from mailcert.model import ConfiguredCert, Finding, Severity
from mailcert.pki.certinfo import not_after, san_dns_names, sha256_hex, spki_der
from mailcert.pki.chain import PathStatus
from mailcert.pki.judge import path_of
from mailcert.quoting import shell_command
from mailcert.services.model import CertSource, PemLayout

# Groups that may legitimately read a TLS key besides root (the services' own groups).
SERVICE_KEY_GROUPS = frozenset(
    {"root", "ssl-cert", "Debian-exim", "exim", "mail", "dovecot", "postfix", "wheel"}
)


@dataclass(frozen=True)
class SourceResult:
    configured: ConfiguredCert
    findings: tuple[Finding, ...]
    chain: tuple[x509.Certificate, ...]  # what the service would serve (leaf first), empty when unusable


class FileCache:
    """Reads each file once per host, however many listeners use it."""

    def __init__(self, files: HostFiles) -> None:
        self.files = files
        self._pem: dict[str, FileFacts] = {}

    def pem(self, path: str) -> FileFacts:
        if path not in self._pem:
            self._pem[path] = self.files.pem_file(path)
        return self._pem[path]


def check_cert_source(
    source: CertSource, cache: FileCache, hostnames: Sequence[str], opts: CheckOptions, where: Where
) -> SourceResult:
    """Every finding about one configured certificate source, and what it would serve."""
    cert_facts = [cache.pem(path) for path in source.cert_files]
    configured = ConfiguredCert(cert_file=source.leaf_file, key_file=source.private_key_file)
    at_config = replace(
        where,
        file=source.location.file if source.location else None,
        line=source.location.line if source.location else None,
    )
    findings: list[Finding] = []
    for facts in cert_facts:
        problem = _unreadable_cert(facts, source, at_config)
        if problem is not None:
            return SourceResult(configured, (problem,), ())
    blocks = [block for facts in cert_facts for block in facts.blocks]
    # Which file each certificate came from: a key-first list (Postfix chain files) names the key file first.
    loaded = [
        (_load(b), facts.path)
        for facts in cert_facts
        for b in facts.blocks
        if b.kind is BlockKind.CERTIFICATE and b.der is not None
    ]
    certs_ok = [c for c, _ in loaded if c is not None]
    file_of = {id(c): path for c, path in loaded if c is not None}
    if not certs_ok:
        return SourceResult(configured, (_no_certificate(cert_facts, source, at_config),), ())
    first_file = file_of[id(certs_ok[0])]
    at_cert = replace(where, file=first_file, line=None)
    findings += [
        replace(where, file=facts.path, line=None).finding(
            "cert.unparsable", f"{facts.path}: {b.error}", "replace the damaged certificate block"
        )
        for facts in cert_facts
        for b in facts.blocks
        if b.kind is BlockKind.CERTIFICATE and b.error
    ]
    key_blocks, key_where, key_findings = _key_blocks(source, cert_facts, cache, where)
    findings += key_findings
    if any(f.check == "key.missing" for f in key_findings):
        leaf = certs_ok[0]
    else:
        leaf, pair_findings = _leaf_and_key(certs_ok, key_blocks, source, at_cert, key_where)
        findings += pair_findings
    at_cert = replace(where, file=file_of[id(leaf)], line=None)
    if source.layout is PemLayout.KEY_FIRST:
        findings += _key_first_order(blocks, source, at_config)
    chain = (leaf, *[c for c in certs_ok if c is not leaf])
    configured = replace(
        configured,
        cert_file=file_of[id(leaf)],
        key_file=key_where.file
        if key_blocks and source.layout is PemLayout.KEY_FIRST
        else configured.key_file,
        sha256=sha256_hex(leaf),
        not_after=not_after(leaf),
        sans=tuple(san_dns_names(leaf)),
    )
    fill = _ca_file_certs(source, cache)
    leaf_only = len(chain) == 1 and path_of(chain, opts.trust, now=opts.now).status is PathStatus.INCOMPLETE
    if leaf_only:
        findings.append(_not_fullchain(file_of[id(leaf)], chain, fill, source, opts, at_config))
    findings += check_chain(chain, hostnames, opts, at_cert, fill=fill, report_incomplete=not leaf_only)
    return SourceResult(configured, tuple(findings), chain)


def _load(block: PemBlock) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(block.der or b"")
    except ValueError:
        return None


def _unreadable_cert(facts: FileFacts, source: CertSource, where: Where) -> Finding | None:
    if facts.exists and not facts.error:
        return None
    return where.finding(
        "cert.missing",
        f"{source.setting} names {facts.path}, which cannot be used: {facts.error or 'no such file'}",
        f"point {source.setting} at an existing certificate file (for certbot: /etc/letsencrypt/live/NAME/fullchain.pem)",
    )


def _no_certificate(cert_facts: Sequence[FileFacts], source: CertSource, where: Where) -> Finding:
    facts = cert_facts[0]
    if facts.keys and not any(b.kind is BlockKind.CERTIFICATE for f in cert_facts for b in f.blocks):
        why = "it holds a private key, not a certificate (certificate and key settings swapped?)"
    else:
        why = facts.pem_error or "no valid PEM certificate in it"
    return where.finding(
        "cert.unparsable",
        f"{source.setting} names {facts.path}: {why}",
        f"point {source.setting} at the PEM certificate chain file (certbot: fullchain.pem)",
    )


def _key_blocks(
    source: CertSource, cert_facts: Sequence[FileFacts], cache: FileCache, where: Where
) -> tuple[list[PemBlock], Where, list[Finding]]:
    if source.key_file is None or source.key_file in source.cert_files:
        blocks = [b for f in cert_facts for b in f.keys]
        holder = next((f for f in cert_facts if f.keys), cert_facts[0])
        permissions = [finding for f in cert_facts for finding in _key_file_findings(f, f.keys)]
        return blocks, replace(where, file=holder.path, line=None), permissions
    key_facts = cache.pem(source.key_file)
    key_where = replace(where, file=source.key_file, line=None)
    setting = source.key_setting or "the key setting"
    if not key_facts.exists or key_facts.error:
        at = replace(
            where,
            file=source.key_location.file if source.key_location else None,
            line=source.key_location.line if source.key_location else None,
        )
        return (
            [],
            key_where,
            [
                at.finding(
                    "key.missing",
                    f"{setting} names {source.key_file}, which cannot be used: {key_facts.error or 'no such file'}",
                    f"point {setting} at the private key of the certificate (certbot: privkey.pem)",
                )
            ],
        )
    return list(key_facts.keys), key_where, _key_file_findings(key_facts, list(key_facts.keys))


def _key_file_findings(facts: FileFacts, keys: Sequence[PemBlock]) -> list[Finding]:
    if not keys or facts.mode is None:
        return []
    readable_by_others = bool(facts.mode & 0o004)
    readable_by_group = bool(facts.mode & 0o040) and (facts.group or "") not in SERVICE_KEY_GROUPS
    if not (readable_by_others or readable_by_group):
        return []
    who = "everyone" if readable_by_others else f"group '{facts.group or facts.gid}'"
    return [
        Where(file=facts.path).finding(
            "key.permissions",
            f"private key {facts.path} (mode {facts.mode:04o}) is readable by {who}",
            f"`{shell_command('chmod', '600', facts.path)}` (or 640 with the service's own group)",
        )
    ]


def _leaf_and_key(
    certs: Sequence[x509.Certificate],
    keys: Sequence[PemBlock],
    source: CertSource,
    at_cert: Where,
    at_key: Where,
) -> tuple[x509.Certificate, list[Finding]]:
    first = certs[0]
    if not keys:
        where_key = source.key_file or source.cert_files[0]
        return first, [
            at_key.finding(
                "key.missing",
                f"no private key found in {where_key} for {source.setting}",
                "configure the certificate's private key (certbot: privkey.pem)",
            )
        ]
    key = keys[0]
    if key.encrypted:
        if source.passphrase_configured:
            return first, []
        return first, [
            at_key.finding(
                "key.encrypted",
                f"the private key in {at_key.file} is passphrase-protected and the service has no passphrase",
                f"decrypt it: `{shell_command('openssl', 'pkey', '-in', at_key.file, '-out', 'KEY.new')}` (keep it mode 600), "
                "then point the service at it",
            )
        ]
    if key.public_key_der is None:
        return first, [
            at_key.finding(
                "key.missing",
                f"the private key in {at_key.file} cannot be read: {key.error}",
                "replace it with the certificate's intact private key",
            )
        ]
    if spki_der(first) == key.public_key_der:
        return first, []
    matching = next((c for c in certs if spki_der(c) == key.public_key_der), None)
    if matching is not None:
        return matching, [
            at_cert.finding(
                "cert.leaf-not-first",
                f"the first certificate in {at_cert.file} is not the leaf that matches the key "
                f"(the leaf is certificate #{list(certs).index(matching) + 1}); the service fails to load TLS",
                "reorder the file: leaf first, then the intermediates (certbot's fullchain.pem has this order)",
            )
        ]
    return first, [
        at_key.finding(
            "key.mismatch",
            f"the private key in {at_key.file} does not belong to the certificate in {at_cert.file}; "
            "the service cannot do TLS with this pair",
            "configure the key from the same issuance (same certbot lineage: live/NAME/privkey.pem with live/NAME/fullchain.pem)",
        )
    ]


def _key_first_order(blocks: Sequence[PemBlock], source: CertSource, where: Where) -> list[Finding]:
    relevant = [b.kind for b in blocks if b.kind is not BlockKind.OTHER]
    if relevant and relevant[0] is BlockKind.PRIVATE_KEY:
        return []
    return [
        where.finding(
            "config.syntax",
            f"{source.setting} must list each private key before its certificate chain "
            f"({', '.join(source.cert_files)} starts with a certificate): Postfix logs 'key not first' and disables TLS",
            f"{source.setting} = /etc/letsencrypt/live/NAME/privkey.pem, /etc/letsencrypt/live/NAME/fullchain.pem",
        )
    ]


def _ca_file_certs(source: CertSource, cache: FileCache) -> tuple[x509.Certificate, ...]:
    if not source.ca_file:
        return ()
    loaded = (_load(block) for block in cache.pem(source.ca_file).blocks if block.der is not None)
    return tuple(cert for cert in loaded if cert is not None)


def _not_fullchain(
    path: str,
    chain: Sequence[x509.Certificate],
    fill: Sequence[x509.Certificate],
    source: CertSource,
    opts: CheckOptions,
    where: Where,
) -> Finding:
    better = (
        path[: -len("cert.pem")] + "fullchain.pem"
        if path.endswith("/cert.pem")
        else "a file with leaf + intermediates"
    )
    completed = fill and path_of(chain, opts.trust, now=opts.now, fill=fill).status is PathStatus.TRUSTED
    if completed:
        return where.finding(
            "config.cert-not-fullchain",
            f"{path} holds only the leaf; the chain is completed from {source.ca_file} (OpenSSL auto-chain), "
            "which also sends that file as the client-certificate CA list",
            f"set {source.setting} to {better} and leave the CA file for client certificates",
            severity=Severity.WARNING,
        )
    return where.finding(
        "config.cert-not-fullchain",
        f"{source.setting} names {path}, which holds only the leaf certificate: the intermediate is not served "
        "(Thunderbird/Android: unknown issuer; Outlook may fetch it itself)",
        f"set {source.setting} to {better}",
    )
