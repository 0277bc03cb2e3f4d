"""What mail clients show for each check: the table in mailcert/data/symptoms.yml, read once and checked.

Reports attach `symptoms_for(check)` to every finding; `mailcert explain` goes the other way, from a pasted
client error to the checks whose `phrasings` it contains (`checks_matching`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

import yaml

from mailcert.catalogue import CHECKS
from mailcert.errors import MailcertError

_DATA_FILE = "symptoms.yml"
_TEXT_FIELDS = ("outlook", "outlook_flag", "apple", "thunderbird", "android")
FAMILIES = ("outlook", "apple", "thunderbird", "android", "openssl", "gnutls")
"""The client families the table gives a verdict for (`mailcert probe --client`)."""
VERDICTS_KNOWN = ("fails", "aia", "maybe", "passes", "later", "depends", "none")
"""What a client family does when a check's problem bites, worst first (symptoms.yml explains each)."""
_CLIENTS_KEY = "clients"
_FLAG = re.compile(r"(0x[0-9a-f]+)?")
# libyaml's safe loader reads the table about ten times faster than the pure-Python one (every CLI run
# loads it); both accept the same YAML.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class ClientFamily:
    """A family of mail clients sharing one TLS stack, and whether it fetches missing intermediates (AIA)."""

    key: str
    name: str
    stack: str
    aia: bool
    source: str


@dataclass(frozen=True)
class SymptomsTable:
    symptoms: dict[str, Symptoms]
    phrasings: dict[str, tuple[str, ...]]
    verdicts: dict[str, dict[str, str]]  # check → family → one of VERDICTS_KNOWN
    families: dict[str, ClientFamily]


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
    table = parse_full_table(text)
    return table.symptoms, table.phrasings


def parse_full_table(text: str) -> SymptomsTable:
    """The whole YAML table checked: symptoms, phrasings and verdicts per check, and the client families."""
    try:
        raw = yaml.load(text, Loader=_LOADER)  # noqa: S506 — a safe loader (libyaml's when installed)
    except yaml.YAMLError as exc:
        raise _table_error(f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise _table_error("top level is not a mapping of check ID to symptoms")
    families = _families(raw.pop(_CLIENTS_KEY, None))
    missing = sorted(set(CHECKS) - set(raw))
    unknown = sorted(set(raw) - set(CHECKS))
    if missing or unknown:
        raise _table_error(f"check IDs missing: {missing}, not in the catalogue: {unknown}")
    symptoms: dict[str, Symptoms] = {}
    phrasings: dict[str, tuple[str, ...]] = {}
    verdicts: dict[str, dict[str, str]] = {}
    for check_id in CHECKS:  # catalogue order
        entry = raw[check_id]
        if not isinstance(entry, dict) or set(entry) != {*_TEXT_FIELDS, "phrasings", "verdict"}:
            raise _table_error(f"{check_id}: needs exactly {', '.join(_TEXT_FIELDS)}, verdict and phrasings")
        verdict = entry["verdict"]
        if (
            not isinstance(verdict, dict)
            or set(verdict) != set(FAMILIES)
            or not all(v in VERDICTS_KNOWN for v in verdict.values())
        ):
            raise _table_error(
                f"{check_id}: verdict must give each of {', '.join(FAMILIES)} one of {', '.join(VERDICTS_KNOWN)}"
            )
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
        verdicts[check_id] = {family: verdict[family] for family in FAMILIES}
    return SymptomsTable(symptoms, phrasings, verdicts, families)


def _families(raw: object) -> dict[str, ClientFamily]:
    if not isinstance(raw, dict) or set(raw) != set(FAMILIES):
        raise _table_error(f"{_CLIENTS_KEY}: needs exactly {', '.join(FAMILIES)}")
    families = {}
    for key in FAMILIES:
        entry = raw[key]
        if (
            not isinstance(entry, dict)
            or set(entry) != {"name", "stack", "aia", "source"}
            or not isinstance(entry["aia"], bool)
            or not all(isinstance(entry[f], str) and entry[f].strip() for f in ("name", "stack", "source"))
        ):
            raise _table_error(f"{_CLIENTS_KEY}.{key}: needs name, stack, source (text) and aia (true/false)")
        families[key] = ClientFamily(key, entry["name"], entry["stack"], entry["aia"], entry["source"])
    return families


_table = parse_full_table(
    resources.files("mailcert").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
)
_symptoms, _phrasings = _table.symptoms, _table.phrasings

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


VERDICTS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {check: MappingProxyType(by_family) for check, by_family in _table.verdicts.items()}
)
"""Check ID → client family → what that family does when the problem bites (VERDICTS_KNOWN)."""

CLIENT_FAMILIES: Mapping[str, ClientFamily] = MappingProxyType(_table.families)
"""Family key → its stack, AIA behaviour and the source for it."""

CLIENT_TEXT_FIELD = {
    "outlook": "outlook",
    "apple": "apple",
    "thunderbird": "thunderbird",
    "android": "android",
}
"""The families whose words the Symptoms table records (its JSON fields)."""


def verdict_for(check_id: str, family: str) -> str:
    """What `family` does when `check_id`'s problem bites ("none" for an ID outside the catalogue)."""
    return VERDICTS.get(check_id, {}).get(family, "none")


def worst_verdict(check_ids: Iterable[str], family: str) -> str:
    """The worst of a family's verdicts over several checks (fails before aia before maybe ...); passes if none."""
    found = [verdict_for(check, family) for check in check_ids]
    ranked = [v for v in VERDICTS_KNOWN if v in found and v not in ("none",)]
    return ranked[0] if ranked else "passes"


def client_text(check_id: str, family: str) -> str:
    """What the table says the family shows for the check ("" for families without a text field)."""
    field = CLIENT_TEXT_FIELD.get(family)
    symptoms = SYMPTOMS.get(check_id)
    return str(getattr(symptoms, field)) if field and symptoms else ""


def checks_shown_by(phrasing: str) -> dict[str, tuple[str, ...]]:
    """Check ID → the families that show `phrasing` for it (their text names it and they fail or may fail)."""
    folded = " ".join(phrasing.split()).casefold()
    shown: dict[str, tuple[str, ...]] = {}
    for check_id in SYMPTOMS:
        families = tuple(
            family
            for family in CLIENT_TEXT_FIELD
            if verdict_for(check_id, family) in ("fails", "aia")
            and folded in " ".join(client_text(check_id, family).split()).casefold()
        )
        if families:
            shown[check_id] = families
    return shown
