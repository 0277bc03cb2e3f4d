"""`mailcert explain`: a mail client's error (pasted text, an Outlook flag value, a Windows error code) →
the server-side causes, the checks that detect them and the command that confirms each.

Pure: text in, Explanation out. Client phrasings come from the symptoms table (mailcert/data/symptoms.yml);
the numeric codes below are from the reference (mail-tls-config.md §6) and Microsoft's WinHTTP/SSPI headers.
A client's generic phrasing ("Cannot Verify Server Identity") belongs to every check whose table entry says that
client shows it (and that client fails or may fail there), not only to the checks that list it. When the query
names its client (Apple, Outlook, Thunderbird, Android), or its phrasing belongs to one client only, causes are
ranked by what that client actually rejects (symptoms.yml `verdict`): a missing intermediate, which Outlook
may fetch through AIA, ranks below what it always refuses.
Matching is tolerant of partial pastes: both sides are normalised to word stems and a phrasing scores the
share of its (rarity-weighted) words found in the query.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from mailcert.catalogue import CHECKS
from mailcert.symptoms import CLIENT_FAMILIES, PHRASINGS, checks_shown_by, verdict_for

# WinHTTP secure-failure flags (WINHTTP_CALLBACK_STATUS_FLAG_*), as Outlook/Autodiscover report them.
OUTLOOK_FLAGS: dict[int, str] = {
    0x1: "CERT_REV_FAILED",
    0x2: "INVALID_CERT",
    0x4: "CERT_REVOKED",
    0x8: "INVALID_CA",
    0x10: "CERT_CN_INVALID",
    0x20: "CERT_DATE_INVALID",
    0x40: "CERT_WRONG_USAGE",
    0x80000000: "SECURITY_CHANNEL_ERROR",
}
_ALL_FLAGS = sum(OUTLOOK_FLAGS)

# Which server-side faults make Windows raise each flag, most likely first.
FLAG_CAUSES: dict[str, tuple[str, ...]] = {
    "CERT_REV_FAILED": ("cert.untrusted", "cert.self-signed", "cert.chain-incomplete"),
    "INVALID_CERT": ("cert.weak-signature", "cert.weak-key", "cert.no-san"),
    "CERT_REVOKED": ("tls.stale", "cert.untrusted"),
    "INVALID_CA": (
        "cert.chain-incomplete",
        "cert.untrusted",
        "cert.self-signed",
        "config.cert-not-fullchain",
    ),
    "CERT_CN_INVALID": ("cert.name-mismatch", "cert.no-san", "dns.srv-mismatch"),
    "CERT_DATE_INVALID": ("cert.expired", "cert.not-yet-valid", "tls.stale", "renewal.no-reload-hook"),
    "CERT_WRONG_USAGE": ("cert.wrong-usage",),
    "SECURITY_CHANNEL_ERROR": ("config.legacy-protocols", "tls.handshake-failed", "config.mode-mismatch"),
}

_FLAG_WHY: dict[str, str] = {
    "CERT_REV_FAILED": "Windows could not check revocation: usual for private-CA or self-made certificates "
    "whose CRL/OCSP address clients cannot reach",
    "INVALID_CERT": "Windows found the certificate itself invalid (malformed, or a rejected algorithm or key)",
    "CERT_REVOKED": "the served certificate was revoked by its CA; a replacement on disk that the service "
    "never loaded is still served",
}

# Windows error codes (HRESULT / WinINet / WinHTTP) → their symbol and the flag they stand for.
WINDOWS_CODES: dict[int, tuple[str, str]] = {
    0x80090322: ("SEC_E_WRONG_PRINCIPAL", "CERT_CN_INVALID"),
    0x800B010F: ("CERT_E_CN_NO_MATCH", "CERT_CN_INVALID"),
    0x800B0101: ("CERT_E_EXPIRED", "CERT_DATE_INVALID"),
    0x80090328: ("SEC_E_CERT_EXPIRED", "CERT_DATE_INVALID"),
    0x80090325: ("SEC_E_UNTRUSTED_ROOT", "INVALID_CA"),
    0x800B0109: ("CERT_E_UNTRUSTEDROOT", "INVALID_CA"),
    0x800B010A: ("CERT_E_CHAINING", "INVALID_CA"),
    0x800B0110: ("CERT_E_WRONG_USAGE", "CERT_WRONG_USAGE"),
    0x80090349: ("SEC_E_CERT_WRONG_USAGE", "CERT_WRONG_USAGE"),
    0x800B010C: ("CERT_E_REVOKED", "CERT_REVOKED"),
    0x80092012: ("CRYPT_E_NO_REVOCATION_CHECK", "CERT_REV_FAILED"),
    0x80092013: ("CRYPT_E_REVOCATION_OFFLINE", "CERT_REV_FAILED"),
    0x80090327: ("SEC_E_CERT_UNKNOWN", "INVALID_CERT"),
    0x80090326: ("SEC_E_ILLEGAL_MESSAGE", "SECURITY_CHANNEL_ERROR"),
    0x80090331: ("SEC_E_ALGORITHM_MISMATCH", "SECURITY_CHANNEL_ERROR"),
    12038: ("ERROR_INTERNET_SEC_CERT_CN_INVALID", "CERT_CN_INVALID"),
    12037: ("ERROR_INTERNET_SEC_CERT_DATE_INVALID", "CERT_DATE_INVALID"),
    12045: ("ERROR_INTERNET_INVALID_CA", "INVALID_CA"),
    12057: ("ERROR_INTERNET_SEC_CERT_REV_FAILED", "CERT_REV_FAILED"),
    12170: ("ERROR_INTERNET_SEC_CERT_REVOKED", "CERT_REVOKED"),
    12179: ("ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE", "CERT_WRONG_USAGE"),
    12169: ("ERROR_WINHTTP_SECURE_INVALID_CERT", "INVALID_CERT"),
    12157: ("ERROR_WINHTTP_SECURE_CHANNEL_ERROR", "SECURITY_CHANNEL_ERROR"),
    12175: ("ERROR_WINHTTP_SECURE_FAILURE", "SECURITY_CHANNEL_ERROR"),
}
_CODE_BY_SYMBOL: dict[str, int] = {symbol: code for code, (symbol, _) in WINDOWS_CODES.items()}

# OpenSSL verify error numbers (`verify error:num=20:...`, `Verify return code: 20`).
OPENSSL_VERIFY: dict[int, tuple[str, ...]] = {
    2: ("cert.chain-incomplete",),
    9: ("cert.not-yet-valid",),
    10: ("cert.expired", "tls.stale"),
    18: ("cert.self-signed",),
    19: ("cert.untrusted",),
    20: ("cert.chain-incomplete", "cert.untrusted"),
    21: ("cert.chain-incomplete",),
    26: ("cert.wrong-usage",),
    62: ("cert.name-mismatch",),
    64: ("cert.name-mismatch",),
    66: ("cert.weak-key",),
    68: ("cert.weak-signature",),
}

# Framing text of certificate dialogs that names no reason: it means "some certificate problem".
GENERIC_PHRASINGS: tuple[str, ...] = (
    "The server you are connected to is using a security certificate that cannot be verified",
    "Do you want to continue using this server",
    "Internet Security Warning",
    "Add Security Exception",
    "You are about to override how Thunderbird identifies this site",
    "certificate verify failed",
    "Security Alert",
    "The server presented an invalid SSL certificate",
    "Unrecognized Certificate",
    "alert bad certificate",
    "alert certificate unknown",
)
GENERIC_CAUSES: tuple[str, ...] = (
    "cert.name-mismatch",
    "cert.expired",
    "cert.chain-incomplete",
    "cert.self-signed",
    "cert.untrusted",
    "tls.stale",
)

# When no client phrasing matches, words that name the problem still point at causes: each rule needs one word
# of every group (stems, so "expired"/"expires"/"expiry" alike). Scored below any phrasing match.
KEYWORD_RULES: tuple[tuple[tuple[frozenset[str], ...], tuple[str, ...]], ...] = tuple(
    (tuple(frozenset(words.split()) for words in groups), causes)
    for groups, causes in (
        (("principal",), ("cert.name-mismatch", "cert.no-san")),
        (
            (
                "name hostname domain host cn san identity site server",
                "match mismatch wrong incorrect invalid different differ verify",
            ),
            ("cert.name-mismatch", "cert.no-san"),
        ),
        (
            ("expired expire expiry expires outdated lapsed",),
            ("cert.expired", "tls.stale", "renewal.no-reload-hook"),
        ),
        (("valid validity", "date period yet before clock time"), ("cert.expired", "cert.not-yet-valid")),
        (
            (
                "issuer authority ca root anchor chain intermediate",
                "unknown trust trusted untrusted missing incomplete verify find found local get",
            ),
            ("cert.chain-incomplete", "cert.untrusted", "cert.self-signed"),
        ),
        (("self selfsigned", "signed sign"), ("cert.self-signed",)),
        (("trust trusted untrusted",), ("cert.untrusted", "cert.chain-incomplete", "cert.self-signed")),
        (("usage purpose eku",), ("cert.wrong-usage",)),
        (("tls ssl protocol", "version old legacy unsupported"), ("config.legacy-protocols",)),
        (("tlsv1",), ("config.legacy-protocols", "tls.handshake-failed")),
        (("starttls stls",), ("tls.starttls-unavailable",)),
        (("encryption encrypted ssl tls", "type method mode port"), ("config.mode-mismatch",)),
        (("handshake",), ("tls.handshake-failed",)),
        (("accept exception warning prompt asks asking popup", "certificate"), GENERIC_CAUSES),
        (("alert", "unknown"), ("cert.chain-incomplete", "cert.untrusted", "cert.self-signed")),
        (
            ("cipher ciphers", "shared overlap common mismatch"),
            ("config.legacy-protocols", "tls.handshake-failed"),
        ),
        (("timeout timed", "out timeout"), ("tls.unreachable", "config.mode-mismatch")),
        (("refused refuse", "connection connect port"), ("tls.unreachable",)),
        (("unreachable",), ("tls.unreachable",)),
        (("key", "weak small short"), ("cert.weak-key",)),
        (("sha1 sha-1 md5 digest signature", "weak disabled insecure algorithm"), ("cert.weak-signature",)),
        (("revoked revocation",), ("cert.untrusted", "tls.stale")),
        (("stale old previous", "certificate"), ("tls.stale",)),
    )
)
_KEYWORD_SCORE = 0.7

_MIN_SCORE = 0.6  # a phrasing must be this well covered by the query
_NEAR_BEST = 0.8  # causes scoring below this share of the best are dropped


@dataclass(frozen=True)
class Cause:
    check: str
    why: str
    confirm: str


@dataclass(frozen=True)
class Explanation:
    query: str
    outlook_flags: tuple[str, ...]
    causes: tuple[Cause, ...]
    codes: tuple[str, ...] = ()  # Windows error symbols recognised in the query, e.g. SEC_E_WRONG_PRINCIPAL
    matched: tuple[str, ...] = ()  # client phrasings recognised in the query
    client: str = ""  # the client family the query is from (symptoms.yml `clients:` key), "" when unknown

    def to_json(self) -> dict[str, object]:
        """SPEC's `explain --format json` object."""
        return {
            "query": self.query,
            "outlook_flags": list(self.outlook_flags),
            "causes": [{"check": c.check, "why": c.why, "confirm": c.confirm} for c in self.causes],
        }


def explain(query: str, *, host: str = "HOST") -> Explanation:
    """The decoded flags and the likely server-side causes of what a client said (`query`)."""
    flags, codes, numeric = _decode_numbers(query)
    scores: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for flag in flags:
        for rank, check in enumerate(FLAG_CAUSES[flag]):
            _offer(scores, reasons, check, 1.0 - rank * 0.01, _flag_why(flag, codes))
    for check, why in numeric:
        _offer(scores, reasons, check, 1.0, why)
    matched: list[str] = []
    for check, (score, phrasing) in _phrasing_scores(query).items():
        _offer(scores, reasons, check, score, f'clients say "{phrasing}"')
        matched.append(phrasing)
    client = _client_named(query) or _client_of_phrasings(matched)
    for check, why in _keyword_causes(query):
        _offer(scores, reasons, check, _KEYWORD_SCORE, why)
    if not scores:
        generic = _best_generic(query)
        if generic is not None:
            for rank, check in enumerate(GENERIC_CAUSES):
                _offer(
                    scores, reasons, check, 0.7 - rank * 0.01, f'"{generic}" names no reason; the most common'
                )
            matched.append(generic)
    if client:
        for check in scores:
            scores[check] *= _CLIENT_WEIGHT.get(verdict_for(check, client), _ELSE_WEIGHT)
    best = max(scores.values(), default=0.0)
    ranked = sorted(
        (check for check, score in scores.items() if score >= best * _NEAR_BEST),
        key=lambda check: (-round(scores[check], 3), _commonness(check), list(CHECKS).index(check)),
    )
    causes = tuple(
        Cause(check, _why(check, reasons[check], client), confirm_command(check, host)) for check in ranked
    )
    return Explanation(query, tuple(flags), causes, tuple(codes), tuple(dict.fromkeys(matched)), client)


# Among causes that score alike, the ones helpdesks meet most often first (an iPhone's "Cannot Verify Server
# Identity" is most often an expired certificate); the rest in catalogue order.
MOST_COMMON = (
    "cert.expired",
    "cert.name-mismatch",
    "cert.self-signed",
    "cert.chain-incomplete",
    "cert.untrusted",
)
_SHARED = 3  # a phrasing more checks than this share is a client's catch-all wording


def _commonness(check: str) -> int:
    return MOST_COMMON.index(check) if check in MOST_COMMON else len(MOST_COMMON)


# What a client's verdict on a cause does to its score (symptoms.yml `verdict`): what it refuses first, what it
# may get past (AIA) or refuses depending on version next; what it does not show at all falls off the list.
_CLIENT_WEIGHT = {"fails": 1.0, "later": 0.95, "aia": 0.9, "maybe": 0.85, "depends": 0.85}
_ELSE_WEIGHT = 0.6

# Words in a paste that name the client it came from.
_CLIENT_WORDS: dict[str, re.Pattern[str]] = {
    "apple": re.compile(r"\b(?:iphone|ipad|ios|macos|mac ?os|apple|apple mail|mac mail)\b"),
    "outlook": re.compile(r"\b(?:outlook|windows|schannel|microsoft)\b"),
    "thunderbird": re.compile(r"\b(?:thunderbird|betterbird|seamonkey)\b(?! for android)"),
    "android": re.compile(r"\b(?:android|k-?9|thunderbird for android|fairemail|gmail app)\b"),
}


def _client_named(query: str) -> str:
    """The one client family the query names ("" when none, or more than one)."""
    text = _fold(query)
    named = [family for family, words in _CLIENT_WORDS.items() if words.search(text)]
    if named == ["thunderbird", "android"] and "thunderbird for android" in text:
        return "android"
    return named[0] if len(named) == 1 else ""


def _client_of_phrasings(matched: list[str]) -> str:
    """The one client family whose table text shows every recognised phrasing ("" when not exactly one)."""
    common: set[str] | None = None
    for phrasing in matched:
        families = {f for shown in checks_shown_by(phrasing).values() for f in shown}
        common = families if common is None else common & families
    return next(iter(common)) if common is not None and len(common) == 1 else ""


def confirm_command(check: str, host: str = "HOST") -> str:
    """The mailcert command that shows whether this cause is present on `host`."""
    if (check.startswith(("tls.", "cert.")) and check not in _ON_DISK) or check in _ON_THE_WIRE:
        return f"mailcert probe {host}"
    return f"mailcert audit --limit {host}"


_ON_DISK = frozenset({"cert.missing", "cert.unparsable", "cert.leaf-not-first", "tls.stale"})
_ON_THE_WIRE = frozenset({"config.mode-mismatch", "config.legacy-protocols", "config.cert-not-fullchain"})


def decode_flags(value: int) -> tuple[str, ...]:
    """Flag names in a WinHTTP secure-failure value (0x30 → CERT_CN_INVALID, CERT_DATE_INVALID); () if not one."""
    if value <= 0 or value & ~_ALL_FLAGS:
        return ()
    return tuple(name for bit, name in OUTLOOK_FLAGS.items() if value & bit)


# --- numbers and symbols ---------------------------------------------------------------------------


def _decode_numbers(query: str) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(flags, Windows code symbols, (check, why) from OpenSSL verify numbers) found in the query."""
    flags: list[str] = []
    codes: list[str] = []
    numeric: list[tuple[str, str]] = []
    text = _fold(query)
    whole_number = re.fullmatch(r"\s*(?:flags?\s*[:=]?\s*)?(0x[0-9a-f]+|\d+)\s*", text)
    candidates = [whole_number.group(1)] if whole_number else re.findall(r"\b0x[0-9a-f]+\b", text)
    # No client prints a flag or code word longer than 64 bits; a longer number is not one (and int()
    # refuses decimal strings over 4300 digits).
    candidates = [token for token in candidates if len(token) <= 24]
    for token in candidates:
        value = int(token, 16) if token.startswith("0x") else int(token)
        if value in WINDOWS_CODES:
            symbol, flag = WINDOWS_CODES[value]
            codes.append(symbol)
            flags.append(flag)
        else:
            flags += decode_flags(value)
    for word in re.findall(r"[a-z0-9_]+", text):
        symbol = word.upper()
        if symbol in _CODE_BY_SYMBOL:
            codes.append(symbol)
            flags.append(WINDOWS_CODES[_CODE_BY_SYMBOL[symbol]][1])
        for name in OUTLOOK_FLAGS.values():
            if symbol == name or symbol.endswith("_FLAG_" + name) or symbol == "SECURITY_FLAG_" + name:
                flags.append(name)
    for match in re.finditer(r"(?:num\s*=\s*|verify return code:\s*|verify error:\s*num=)(\d{1,9})\b", text):
        number = int(match.group(1))
        for check in OPENSSL_VERIFY.get(number, ()):
            numeric.append((check, f"OpenSSL verify error {number}"))
    ordered = [name for name in OUTLOOK_FLAGS.values() if name in flags]
    return ordered, list(dict.fromkeys(codes)), numeric


def _flag_why(flag: str, codes: list[str]) -> str:
    bit = next(b for b, n in OUTLOOK_FLAGS.items() if n == flag)
    via = [c for c in codes if WINDOWS_CODES[_CODE_BY_SYMBOL[c]][1] == flag]
    prefix = f"{' / '.join(via)} = " if via else ""
    return f"{prefix}Outlook flag {flag} (0x{bit:x})" + (f": {_FLAG_WHY[flag]}" if flag in _FLAG_WHY else "")


def _offer(scores: dict[str, float], reasons: dict[str, str], check: str, score: float, why: str) -> None:
    if score > scores.get(check, 0.0):
        scores[check] = score
        reasons[check] = why


def _why(check: str, reason: str, client: str = "") -> str:
    why = f"{reason}; that is what clients get when {CHECKS[check].fires_when}"
    if client and verdict_for(check, client) == "aia":
        why += (
            f" ({CLIENT_FAMILIES[client].name} may still connect: it fetches a missing intermediate via AIA)"
        )
    elif client and verdict_for(check, client) == "maybe":
        why += f" ({CLIENT_FAMILIES[client].name} refuses this only in some versions or settings)"
    return why


# --- text matching -----------------------------------------------------------------------------------

# fmt: off
_STOPWORDS = frozenset((
    "a", "an", "the", "is", "are", "was", "be", "been", "has", "have", "had", "of", "to", "for", "by", "on",
    "in", "at", "this", "that", "it", "its", "with", "and", "or", "as", "from", "you", "your", "we", "our",
    "will", "can", "could", "do", "does", "did", "not", "no", "doesn", "don", "isn", "wasn", "couldn", "please",
))
# fmt: on
_SYNONYMS = {
    "cert": "certificate",
    "certs": "certificate",
    "expiry": "expire",
    "untrusted": "trust",
    "mismatch": "match",
    "mismatched": "match",
    "matching": "match",
    "refused": "refuse",
}
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


# The look-behind starts a match only where a word starts: without it a long dotless word costs O(n²).
_DOTTED = re.compile(r"(?<![\w-])[\w-]+(?:\.[\w-]+){2,}")


def _fold(text: str) -> str:
    normal = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    normal = re.sub(r"\bhost\s+name\b", "hostname", normal)
    # "TLS 1.0", "TLSv1.1", "tls1.0" → one word, so old protocol versions survive tokenising.
    # OpenSSL names alerts "tlsv1 alert unknown ca", "sslv3 alert handshake failure": not about the version.
    normal = re.sub(r"\b(?:tlsv1|sslv3|tlsv13)\s+alert\b", "alert", normal)
    normal = re.sub(r"\b(?:tls|ssl)\s*v?1(?:\.[01])?\b(?!\.[23]|\s*alert)", "tlsv1", normal)
    return re.sub(r"\s+", " ", normal).strip()


def _stem(word: str) -> str:
    word = _SYNONYMS.get(word, word)
    if "_" in word or word.startswith("0x") or word.isdigit():
        return word
    for suffix in ("ation", "ing", "ed", "es", "s", "e", "y"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _stems(text: str) -> list[str]:
    # Host names and addresses in a paste (mail.example.com, 192.0.2.1) are not words of the message.
    text = _DOTTED.sub(" ", _fold(text))
    words = re.findall(r"[a-z0-9_]+", text)
    return [_stem(w) for w in words if w not in _STOPWORDS and len(w) > 1]


def _phrasing_index() -> tuple[dict[str, tuple[str, ...]], dict[str, float]]:
    """Each distinct phrasing → the checks that list it; each stem → its rarity weight (idf)."""
    owners: dict[str, list[str]] = {}
    for check, phrasings in PHRASINGS.items():
        for phrasing in phrasings:
            owners.setdefault(phrasing, []).append(check)
    for phrasing, checks in owners.items():  # the checks whose client text shows it, listed there or not
        checks += [check for check in checks_shown_by(phrasing) if check not in checks]
    documents = [set(_stems(p)) for p in owners]
    counts: dict[str, int] = {}
    for stems in documents:
        for stem in stems:
            counts[stem] = counts.get(stem, 0) + 1
    idf = {stem: 1.0 + math.log(len(documents) / n) for stem, n in counts.items()}
    return {p: tuple(c) for p, c in owners.items()}, idf


_OWNERS, _IDF = _phrasing_index()


def _coverage(phrasing: str, query_stems: list[str], query_folded: str) -> float:
    """1.0 when the phrasing occurs verbatim; else at most 0.9 for the rarity-weighted share of its words
    in the query (a two-word phrasing must appear in order, at most two words apart)."""
    if _fold(phrasing) in query_folded:
        return 1.0
    stems = _stems(phrasing)
    if not stems:
        return 0.0
    if len(stems) == 1:
        return 0.9 if stems[0] in query_stems else 0.0
    if len(stems) == 2:
        first, second = stems
        near = any(
            word == first and second in query_stems[i + 1 : i + 4] for i, word in enumerate(query_stems)
        )
        return 0.9 if near else 0.0
    present = set(query_stems)
    total = sum(_IDF.get(s, 1.0) for s in stems)
    found = sum(_IDF.get(s, 1.0) for s in stems if s in present)
    return 0.9 * found / total


def _without_generic(query: str) -> str:
    """The query with dialog framing text removed, so its words do not half-match specific phrasings."""
    folded = _fold(query)
    for generic in GENERIC_PHRASINGS:
        folded = folded.replace(_fold(generic), " ")
    return folded


def _phrasing_scores(query: str) -> dict[str, tuple[float, str]]:
    """check → (best score, the phrasing that gave it), for phrasings covered well enough by the query."""
    folded = _without_generic(query)
    query_stems = _stems(folded)
    best: dict[str, tuple[float, str]] = {}
    for phrasing, checks in _OWNERS.items():
        score = _coverage(phrasing, query_stems, folded)
        if score < _MIN_SCORE:
            continue
        # A phrasing many checks share says less about any one of them.
        weighted = score * (1.0 - 0.02 * (len(checks) - 1))
        for check in checks:
            # Among equals, a check whose list puts this phrasing first is the more characteristic cause.
            # (Not for a client's catch-all wording, shared by many: there the commonest cause leads.)
            listed = PHRASINGS[check]
            position = listed.index(phrasing) if phrasing in listed and len(checks) <= _SHARED else _SHARED
            ranked = weighted - 0.001 * position
            if ranked > best.get(check, (0.0, ""))[0]:
                best[check] = (ranked, phrasing)
    return best


def _keyword_causes(query: str) -> list[tuple[str, str]]:
    present = set(_stems(_without_generic(query)))
    causes: list[tuple[str, str]] = []
    for groups, checks in KEYWORD_RULES:
        hits = [next((w for w in group if _stem(w) in present), None) for group in groups]
        if all(hits):
            words = " + ".join(f'"{w}"' for w in hits if w)
            causes += [(check, f"the text mentions {words}") for check in checks]
    return causes


def _best_generic(query: str) -> str | None:
    folded = _fold(query)
    stems = _stems(folded)
    score, phrasing = max((_coverage(p, stems, folded), p) for p in GENERIC_PHRASINGS)
    return phrasing if score >= _MIN_SCORE else None


def render_text(explanation: Explanation) -> str:
    """The explanation for a terminal: what was recognised, then each cause with its check and command."""
    lines = [f"client error: {_one_line(explanation.query)}"]
    if explanation.matched:
        lines.append("recognised: " + "; ".join(f'"{p}"' for p in explanation.matched))
    if explanation.client:
        family = CLIENT_FAMILIES[explanation.client]
        fetches = "fetches" if family.aia else "does not fetch"
        lines.append(
            f"client: {family.name} — {family.stack}, {fetches} missing intermediates via AIA; "
            "causes ranked by what it rejects"
        )
    if explanation.codes:
        lines.append("Windows codes: " + ", ".join(explanation.codes))
    if explanation.outlook_flags:
        bits = {name: bit for bit, name in OUTLOOK_FLAGS.items()}
        lines.append("Outlook flags: " + ", ".join(f"{f} (0x{bits[f]:x})" for f in explanation.outlook_flags))
    if not explanation.causes:
        lines.append(no_match_reason(explanation.query))
        return "\n".join(lines) + "\n"
    lines += ["", "likely causes on the server (most likely first):"]
    for cause in explanation.causes:
        lines += [f"  {cause.check}", f"    why: {cause.why}", f"    confirm: {cause.confirm}"]
    return "\n".join(lines) + "\n"


def no_match_reason(query: str) -> str:
    """Why nothing was recognised, in one line."""
    if re.fullmatch(r"\s*(0x[0-9a-fA-F]+|\d+)\s*", query):
        return (
            f"{query.strip()} is neither a sum of Outlook's certificate flags (0x1-0x40, 0x80000000) "
            "nor a Windows error code mailcert knows"
        )
    return "no known client error recognised"


NO_MATCH_HINT = (
    "Paste the client's whole error text (or its numeric code, e.g. 0x30 or 0x80090322), "
    "or run `mailcert probe HOST` to see what clients get."
)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 200 else flat[:197] + "..."
