"""The re-check after a switch compares (port, name) by (port, name) with the audit: any client that judges
its (port, name) worse than before makes `fix` restore, even when no new critical check ID appears."""

from __future__ import annotations

from dataclasses import replace

from mailcert.checks.verdict import client_view
from mailcert.fix.apply.host import HostApplied, got_worse
from mailcert.fix.endpoints import compared
from mailcert.fix.model import Change, ChangeKind, HostPlan, Outcome
from mailcert.model import ConfiguredCert, Endpoint, Finding, HostReport, Mode, Severity
from mailcert.report.fix_applied import before_after
from tests.pki import TestPKI

PKI = TestPKI()
GOOD = PKI.leaf(["imap.example.test", "pop.example.test"]).cert
SNAKEOIL = PKI.leaf(["localhost"], self_signed=True).cert
NAMES = ("imap.example.test", "pop.example.test")


def self_signed(port: int | None) -> Finding:
    return Finding(
        "cert.self-signed",
        Severity.CRITICAL,
        "self-signed 'localhost'",
        "use a CA's",
        service="dovecot",
        port=port,
    )


def report(served: dict[int, bool]) -> HostReport:
    """Dovecot on the given ports, serving the good certificate (True) or the self-signed one (False); one
    merged cert.self-signed finding (port None, as the probe's merge makes it for several ports)."""
    endpoints = []
    for port, good in served.items():
        findings = [] if good else [self_signed(port)]
        clients = tuple(client_view(n, findings, GOOD if good else SNAKEOIL) for n in NAMES)
        endpoints.append(
            Endpoint("dovecot", port, Mode.IMPLICIT, NAMES, ConfiguredCert(None, None), clients=clients)
        )
    bad = [p for p, good in served.items() if not good]
    merged = [self_signed(bad[0] if len(bad) == 1 else None)] if bad else []
    return HostReport("mx1", tuple(endpoints), tuple(merged))


def test_one_more_port_failing_with_the_same_check_id_is_worse() -> None:
    before = report({993: True, 995: False, 465: False})
    after = report({993: False, 995: False, 465: False})
    assert {(f.check, f.service, f.port) for f in after.findings} == {
        (f.check, f.service, f.port) for f in before.findings
    }  # no new critical check ID: the old comparison saw nothing
    why = got_worse(before, after)
    assert why == (
        "worse for clients on 2 (port, name): "
        "imap.example.test:993 ok → fails (cert.self-signed: self-signed 'localhost'); "
        "pop.example.test:993 ok → fails (cert.self-signed: self-signed 'localhost')"
    )


def test_the_same_verdicts_after_are_not_worse() -> None:
    before = report({993: True, 995: False})
    assert got_worse(before, report({993: True, 995: False})) is None
    assert got_worse(before, report({993: True, 995: True})) is None  # better is not worse


def test_a_name_the_re_probe_did_not_reach_is_worse() -> None:
    before = report({993: True, 995: True})
    after = report({993: True})
    why = got_worse(before, after)
    assert why is not None and why.startswith("worse for clients on 2 (port, name): imap.example.test:995 ok")
    assert "the re-probe did not reach imap.example.test on port 995 (implicit)" in why


def test_compared_lists_every_probed_pair_with_both_views() -> None:
    before = report({993: True, 995: False})
    after = report({993: True, 995: True})
    pairs = {
        (c.port, c.hostname): (c.before.verdict.value, c.after.verdict.value) for c in compared(before, after)
    }
    assert pairs == {
        (993, "imap.example.test"): ("ok", "ok"),
        (993, "pop.example.test"): ("ok", "ok"),
        (995, "imap.example.test"): ("fails", "ok"),
        (995, "pop.example.test"): ("fails", "ok"),
    }


def test_after_apply_fix_counts_the_pairs_the_re_probe_saw() -> None:
    before = report({993: True, 995: False})
    after = report({993: False, 995: True})
    change = Change(ChangeKind.RELOAD, "reload dovecot", service="dovecot", outcome=Outcome.ROLLED_BACK)
    applied = HostApplied(HostPlan("mx1", (change,)), after=after)
    lines = before_after(before, applied, before)
    assert lines[-1] == (
        "mx1: clients on 4 (port, name), as the re-probe saw them: 2 better, 0 same verdict, 2 worse (restored)"
    )


def test_a_certificate_that_expires_soon_but_verifies_is_not_worse_for_a_client() -> None:
    """A fresh certificate from a CA that issues short-lived ones (within warn_days) is `warning`
    (cert.expiring), and a client accepts it as it accepted the one before: not a regression."""
    before = report({993: True})
    expiring = Finding("cert.expiring", Severity.WARNING, "expires in 10 days", "renew", service="dovecot")
    views = tuple(client_view(n, [expiring], GOOD) for n in NAMES)
    after = HostReport(
        "mx1", (Endpoint("dovecot", 993, Mode.IMPLICIT, NAMES, ConfiguredCert(None, None), clients=views),)
    )
    assert {c.after.verdict.value for c in compared(before, after)} == {"warning"}
    assert got_worse(before, after) is None


def test_a_port_put_in_its_right_mode_is_the_same_pair() -> None:
    """wrong-mode-587: the audit dialled 587 as configured (implicit TLS); the plan makes it STARTTLS. The
    re-probe's pair (587, starttls) is the audit's (587, implicit): compared, not missing."""
    good = tuple(client_view(n, [], GOOD) for n in NAMES)
    endpoint = Endpoint("postfix", 587, Mode.IMPLICIT, NAMES, ConfiguredCert(None, None), clients=good)
    before = HostReport("mx1", (endpoint,))
    after = HostReport("mx1", (replace(endpoint, mode=Mode.STARTTLS),))
    assert got_worse(before, after) is None
    assert [(c.mode, c.after.verdict.value) for c in compared(before, after)] == [(Mode.IMPLICIT, "ok")] * 2
