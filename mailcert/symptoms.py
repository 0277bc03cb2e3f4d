"""What mail clients show for each check: the table in mailcert/data/symptoms.yml, read once and checked.

Reports attach `symptoms_for(check)` to every finding; `mailcert explain` goes the other way, from a pasted
client error to the checks whose `phrasings` it contains (`checks_matching`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

import yaml

from mailcert.catalogue import CHECKS
from mailcert.errors import MailcertError

_DATA_FILE = "symptoms.yml"
_TEXT_FIELDS = ("outlook", "outlook_flag", "apple", "thunderbird", "android")
_FLAG = re.compile(r"(0x[0-9a-f]+)?")
# libyaml's safe loader reads the table about ten times faster than the pure-Python one (every CLI run
# loads it); both accept the same YAML.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Symptoms:
    """What each client shows when a check's problem bites (the `symptoms` object of the JSON report)."""

    outlook: str
    outlook_flag: str  # WinHTTP secure-failure flag as "0x10" etc., "" when none applies
    apple: str
    thunderbird: str
    android: str


def _table_error(what: str) -> MailcertError:
    return MailcertError(
        what,
        where=f"mailcert/data/{_DATA_FILE}",
        todo="the installed mailcert is damaged or inconsistent; reinstall it or report a bug",
    )


def parse_symptoms_table(text: str) -> tuple[dict[str, Symptoms], dict[str, tuple[str, ...]]]:
    """The YAML table checked against the catalogue: (check → Symptoms, check → phrasings), catalogue order."""
    try:
        raw = yaml.load(text, Loader=_LOADER)  # noqa: S506 — a safe loader (libyaml's when installed)
    except yaml.YAMLError as exc:
        raise _table_error(f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise _table_error("top level is not a mapping of check ID to symptoms")
    missing = sorted(set(CHECKS) - set(raw))
    unknown = sorted(set(raw) - set(CHECKS))
    if missing or unknown:
        raise _table_error(f"check IDs missing: {missing}, not in the catalogue: {unknown}")
    symptoms: dict[str, Symptoms] = {}
    phrasings: dict[str, tuple[str, ...]] = {}
    for check_id in CHECKS:  # catalogue order
        entry = raw[check_id]
        if not isinstance(entry, dict) or set(entry) != {*_TEXT_FIELDS, "phrasings"}:
            raise _table_error(f"{check_id}: needs exactly {', '.join(_TEXT_FIELDS)} and phrasings")
        texts = [entry[name] for name in _TEXT_FIELDS]
        if not all(isinstance(t, str) for t in texts):
            raise _table_error(f"{check_id}: every client text must be a string (quote hex codes)")
        if not _FLAG.fullmatch(entry["outlook_flag"]):
            raise _table_error(f"{check_id}: outlook_flag {entry['outlook_flag']!r} is not lowercase 0x hex")
        listed = entry["phrasings"]
        if not isinstance(listed, list) or not all(isinstance(p, str) and p.strip() for p in listed):
            raise _table_error(f"{check_id}: phrasings must be a list of non-empty strings (quote hex codes)")
        symptoms[check_id] = Symptoms(*texts)
        phrasings[check_id] = tuple(listed)
    return symptoms, phrasings


_symptoms, _phrasings = parse_symptoms_table(
    resources.files("mailcert").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
)

SYMPTOMS: Mapping[str, Symptoms] = MappingProxyType(_symptoms)
"""Check ID → what each client shows, for every check in the catalogue (catalogue order)."""

PHRASINGS: Mapping[str, tuple[str, ...]] = MappingProxyType(_phrasings)
"""Check ID → exact strings clients (and `openssl s_client`) show for it; empty when clients see nothing."""


def symptoms_for(check_id: str) -> Symptoms:
    """What each client shows for a check; an ID outside the catalogue is a mailcert bug."""
    try:
        return SYMPTOMS[check_id]
    except KeyError:
        raise MailcertError(
            f"finding carries unknown check ID {check_id!r}",
            todo="this is a mailcert bug; please report it with the command you ran",
        ) from None


def phrasings_for(check_id: str) -> tuple[str, ...]:
    """The client phrasings listed for a check (empty tuple for an ID outside the catalogue)."""
    return PHRASINGS.get(check_id, ())


def checks_matching(text: str) -> tuple[str, ...]:
    """Check IDs, in catalogue order, one of whose phrasings occurs in `text` (case-insensitive)."""
    folded = " ".join(text.split()).casefold()
    return tuple(
        check_id
        for check_id, listed in PHRASINGS.items()
        if any(" ".join(p.split()).casefold() in folded for p in listed)
    )
