"""The chain judge (mailcert.pki.judge) against x509-limbo's 198 server-validation cases and OpenSSL 3.0's verdicts.

The cases are read at test time from the team's shared folder, `../shared/limbo/limbo-server.json.xz` beside
the checkout (or `$MAILCERT_SHARED/limbo/...`); the data is never copied into the repository. A missing file is a
failure, not a skip: this is the yardstick of every cert.* verdict.

- With OpenSSL 3.0's client verdict (`openssl_verdicts[id]["client"]`: purpose sslserver, security level 2,
  no partial chains) the judge agrees on every case, except where mailcert is deliberately stricter
  (`STRICTER`, each naming the client that refuses too).
- With limbo's expected result the judge agrees wherever OpenSSL's client verdict agrees with limbo.
- Nothing is left out as out of scope: the CRL cases are judged without their CRLs, as a mail client that does not
  fetch CRLs judges them (OpenSSL's client set-up loads none either), and `max_chain_depth` is not applied
  (clients use their default depth).
"""

from __future__ import annotations

import ast
import json
import lzma
import os
import warnings
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from mailcert.pki.judge import Judgement, Problem, judge_chain
from mailcert.pki.trust import TrustStore

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MAILCERT_SHARED", REPO.parent / "shared"))
LIMBO = SHARED / "limbo" / "limbo-server.json.xz"

# Where mailcert refuses and OpenSSL accepts, on purpose: case id -> (problem, the client that refuses too).
STRICTER = {
    # OpenSSL falls back to the CN when the leaf has no subjectAltName; Apple's clients do not (SPEC cert.no-san).
    "webpki::san::no-san": (Problem.NO_SAN, "Apple Mail (macOS, iOS) ignores the CN"),
    "webpki::v1-cert": (
        Problem.NO_SAN,
        "Apple Mail (macOS, iOS) ignores the CN; a v1 certificate has no SAN",
    ),
}


@cache
def _limbo() -> dict[str, Any]:
    assert LIMBO.is_file(), (
        f"{LIMBO} is missing: the shared limbo cases sit beside the checkout (../shared/limbo)"
    )
    with lzma.open(LIMBO) as stream:
        data: dict[str, Any] = json.load(stream)
    return data


def _field(value: Any) -> Any:
    """Fields are stored as Python literals in strings (lists, dicts, None)."""
    return ast.literal_eval(value) if isinstance(value, str) and value[:1] in "[{N" else value


def _certs(pems: list[str]) -> list[x509.Certificate]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a negative serial (rfc5280::serial::negative) only warns
        return [x509.load_pem_x509_certificate(pem.encode()) for pem in pems]


def _judge(case: dict[str, Any]) -> Judgement:
    roots = _certs(_field(case["trusted_certs"]))
    intermediates = _certs(_field(case["untrusted_intermediates"]))
    (leaf,) = _certs([case["peer_certificate"]])
    peer = _field(case["expected_peer_name"])
    when = _field(case["validation_time"])
    now = datetime.fromisoformat(when) if when else datetime.now(UTC)
    return judge_chain(
        [leaf, *intermediates],
        TrustStore.of(roots),
        now=now,
        hostnames=[peer["value"]] if peer else [],
    )


def _cases() -> list[dict[str, Any]]:
    return list(_limbo()["testcases"]) if LIMBO.is_file() else [{"id": "limbo-file-missing"}]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_judge_agrees_with_openssl_clients(case: dict[str, Any]) -> None:
    verdicts = _limbo()["openssl_verdicts"][case["id"]]
    openssl_ok, openssl_why = verdicts["client"]
    judgement = _judge(case)
    reason = judgement.reason
    if case["id"] in STRICTER:
        problem, _client = STRICTER[case["id"]]
        assert openssl_ok and reason is not None and reason.problem is problem
        return
    assert judgement.accepted is openssl_ok, (
        f"OpenSSL: {'ok' if openssl_ok else openssl_why}; mailcert: {reason.message if reason else 'ok'}"
    )
    limbo_ok = case["expected_result"] == "SUCCESS"
    if openssl_ok is limbo_ok:
        assert judgement.accepted is limbo_ok


def test_agreement_counts() -> None:
    """The numbers the issue tracks: every case agrees with OpenSSL but the documented stricter ones."""
    data = _limbo()
    cases = data["testcases"]
    agree_openssl = agree_limbo = 0
    for case in cases:
        accepted = _judge(case).accepted
        agree_openssl += accepted is data["openssl_verdicts"][case["id"]]["client"][0]
        agree_limbo += accepted is (case["expected_result"] == "SUCCESS")
    assert len(cases) == 198
    assert agree_openssl == len(cases) - len(STRICTER)
    assert agree_limbo >= 140  # OpenSSL's client set-up itself agrees with limbo on 138


def test_the_first_reason_is_the_clients() -> None:
    """Where OpenSSL names a reason mailcert has a problem kind for, the judge's first reason is that kind."""
    expected = {
        "webpki::forbidden-weak-rsa-in-leaf": Problem.WEAK_KEY,
        "webpki::forbidden-p192-root": Problem.WEAK_KEY,
        "rfc5280::intermediate-ca-without-ca-bit": Problem.NOT_A_CA,
        "pathlen::intermediate-violates-pathlen-0": Problem.PATH_LENGTH,
        "rfc5280::validity::expired-root": Problem.EXPIRED,
        "rfc5280::unknown-critical-extension-ee": Problem.CRITICAL_EXTENSION,
        "rfc5280::nc::excluded-dns-match": Problem.NAME_CONSTRAINTS,
        "webpki::san::unicode-emoji-san": Problem.NAME_MISMATCH,
        "rfc5280::duplicate-extensions": Problem.INVALID_CERT,
        "rfc5280::eku::ee-wrong-eku": Problem.WRONG_PURPOSE,
    }
    by_id = {c["id"]: c for c in _limbo()["testcases"]}
    got = {}
    for case_id in expected:
        reason = _judge(by_id[case_id]).reason
        got[case_id] = reason.problem if reason else None
    assert got == expected


def test_malformed_aia_does_not_hide_the_san() -> None:
    """One malformed extension OpenSSL does not decode must not make the others (the SAN) disappear."""
    case = next(c for c in _limbo()["testcases"] if c["id"] == "webpki::malformed-aia")
    judgement = _judge(case)
    assert judgement.accepted
    assert not any(f.problem in (Problem.NO_SAN, Problem.NAME_MISMATCH) for f in judgement.findings)
