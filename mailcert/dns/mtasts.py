"""MTA-STS (RFC 8461): the `_mta-sts` TXT record and the policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailcert.pki.names import name_matches

POLICY_PATH = "/.well-known/mta-sts.txt"
MAX_AGE_LIMIT = 31557600
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


@dataclass(frozen=True)
class StsRecord:
    id: str


@dataclass(frozen=True)
class StsPolicy:
    mode: str  # enforce, testing, none
    mx: tuple[str, ...]
    max_age: int | None
    problems: tuple[str, ...] = ()  # what in the document a sender would reject or ignore


def policy_host(domain: str) -> str:
    return f"mta-sts.{domain}"


def parse_sts_record(txts: list[str]) -> tuple[StsRecord | None, str | None]:
    """The one `v=STSv1` TXT record → (record, None), or (None, why it is unusable); (None, None) when absent."""
    sts = [t for t in txts if t.strip().startswith("v=STSv1")]
    if not sts:
        return None, None
    if len(sts) > 1:
        return None, f"{len(sts)} v=STSv1 TXT records (senders treat more than one as no policy)"
    fields = dict(_pair(part, "=") for part in sts[0].split(";") if part.strip())
    ident = fields.get("id", "")
    if not _ID.match(ident):
        return None, f"the TXT record's id {ident!r} is not 1-32 letters and digits"
    return StsRecord(ident), None


def parse_policy(text: str) -> StsPolicy:
    """The policy document (CRLF or LF lines of `key: value`); problems listed, never raised."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip():
            key, value = _pair(line, ":")
            fields.setdefault(key.lower(), []).append(value)
    problems = []
    if fields.get("version") != ["STSv1"]:
        problems.append(f"version is {fields.get('version', ['missing'])[0]!r}, not 'STSv1'")
    mode = (fields.get("mode") or [""])[0]
    if mode not in ("enforce", "testing", "none"):
        problems.append(f"mode {mode or 'missing'!r} is not enforce, testing or none")
    max_age_text = (fields.get("max_age") or [""])[0]
    max_age = int(max_age_text) if max_age_text.isdigit() else None
    if max_age is None or max_age > MAX_AGE_LIMIT:
        problems.append(
            f"max_age {max_age_text or 'missing'!r} is not a number of seconds up to {MAX_AGE_LIMIT}"
        )
    mx = tuple(p.lower().rstrip(".") for p in fields.get("mx", []))
    if mode in ("enforce", "testing") and not mx:
        problems.append("no mx: lines, so no MX host can match")
    return StsPolicy(mode, mx, max_age, tuple(problems))


def mx_allowed(policy: StsPolicy, mx_host: str) -> bool:
    """RFC 8461 §4.1: an exact name, or `*.suffix` standing for exactly one label."""
    return any(name_matches(pattern, mx_host) for pattern in policy.mx)


def _pair(text: str, sep: str) -> tuple[str, str]:
    key, _, value = text.partition(sep)
    return key.strip(), value.strip()
