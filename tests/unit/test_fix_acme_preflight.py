"""ACME pre-flight (issue 18, point 7): a name that cannot validate (does not resolve, resolves elsewhere,
CAA forbids the CA, port 80 taken for --standalone) is named in the plan before anything runs; certbot is
asked for the other names; steps that do not need the new certificate (a master.cf mode fix) stay."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mailcert.dns.acme import CaaRecord, NameDns, caa_refusal, look_up, parse_caa
from mailcert.dns.resolver import DnsAnswer, Outcome
from mailcert.fix.model import ChangeKind, HostPlan
from mailcert.fix.plan.acme_check import AcmeFacts, ca_domain, preflight, with_acme_preflight
from tests.fix_trees import inventory_host, plan
from tests.lint_trees import NAMES, HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
HOST = "127.0.0.1"  # inventory_host's address
MAIL, SMTP, IMAP, POP = NAMES  # mail., smtp., imap., pop.example.test
MASTER_CF = "/etc/postfix/master.cf"


@pytest.fixture
def expanding(tmp_path: Path) -> HostPlan:
    """The lineage covers mail. and smtp. only (the plan expands it) and 587 speaks implicit TLS."""
    tree = HostTree(tmp_path, PKI, PKI.leaf(NAMES[:2]))
    tree.edit(
        MASTER_CF,
        "  -o syslog_name=postfix/submission\n",
        "  -o syslog_name=postfix/submission\n  -o smtpd_tls_wrappermode=yes\n",
    )
    return plan(tree, PKI, inventory_host())


def at_host(name: str, *caa: CaaRecord) -> NameDns:
    return NameDns(name, (HOST,), Outcome.OK, caa_owner="example.test" if caa else None, caa=caa)


def facts(*names: NameDns, listening: frozenset[int] | None = frozenset({22, 25, 587})) -> AcmeFacts:
    every = {n.name: n for n in names}
    for name in NAMES:
        every.setdefault(name, at_host(name))
    return AcmeFacts(every, frozenset({HOST}), listening, "letsencrypt.org", "resolver 192.0.2.53:53")


def certbot_d(result: HostPlan) -> list[str] | None:
    issues = [c for c in result.changes if c.kind is ChangeKind.ISSUE]
    if not issues:
        return None
    argv = issues[0].command.argv if issues[0].command else ()
    return [argv[i + 1] for i, word in enumerate(argv) if word == "-d"]


def master_cf_fixed(result: HostPlan) -> bool:
    return any(
        c.file is not None and c.file.path == MASTER_CF and "config.mode-mismatch postfix:587" in c.removes
        for c in result.changes
    )


def acme_lines(result: HostPlan) -> list[str]:
    return [line for line in result.unfixable if line.startswith("acme:")]


def test_every_name_validating_leaves_the_plan_alone(expanding: HostPlan) -> None:
    assert certbot_d(expanding) == NAMES and master_cf_fixed(expanding)
    assert preflight(expanding, facts()) == expanding


def test_a_name_that_does_not_resolve_is_named_and_left_out(expanding: HostPlan) -> None:
    result = preflight(expanding, facts(NameDns(IMAP, (), Outcome.NXDOMAIN)))
    assert certbot_d(result) == [MAIL, SMTP, POP]
    (line,) = acme_lines(result)
    assert line.startswith(
        f"acme: {IMAP} cannot be validated by the CA (letsencrypt.org): it does not resolve"
    )
    assert "NXDOMAIN from resolver 192.0.2.53:53" in line
    assert (
        f"publish an A/AAAA record for {IMAP} pointing at {HOST}, or remove it from mailcert_hostnames"
        in line
    )
    assert f"certbot is asked for {MAIL}, {SMTP}, {POP} without it" in line
    (issue,) = [c for c in result.changes if c.kind is ChangeKind.ISSUE]
    assert issue.description == f"expand certificate {MAIL} to {MAIL}, {SMTP}, {POP} with certbot"
    assert master_cf_fixed(result)


def test_a_name_that_resolves_elsewhere_is_left_out(expanding: HostPlan) -> None:
    result = preflight(expanding, facts(NameDns(POP, ("198.51.100.7",), Outcome.OK)))
    assert certbot_d(result) == [MAIL, SMTP, IMAP]
    (line,) = acme_lines(result)
    assert f"acme: {POP} cannot be validated" in line
    assert f"it resolves to 198.51.100.7, not to this host ({HOST})" in line and master_cf_fixed(result)


def test_caa_forbidding_the_ca_leaves_the_name_out(expanding: HostPlan) -> None:
    result = preflight(expanding, facts(at_host(POP, CaaRecord(0, "issue", "sectigo.com"))))
    assert certbot_d(result) == [MAIL, SMTP, IMAP]
    (line,) = acme_lines(result)
    assert 'CAA `issue` allows "sectigo.com", not letsencrypt.org (CAA at example.test)' in line
    assert 'add `example.test. IN CAA 0 issue "letsencrypt.org"`' in line and master_cf_fixed(result)


def test_caa_allowing_the_ca_changes_nothing(expanding: HostPlan) -> None:
    allows = CaaRecord(0, "issue", "letsencrypt.org; validationmethods=http-01")
    other = CaaRecord(0, "issue", "sectigo.com")
    assert preflight(expanding, facts(*(at_host(n, other, allows) for n in NAMES))) == expanding


def test_port_80_taken_for_standalone_drops_the_request_and_keeps_the_587_fix(expanding: HostPlan) -> None:
    result = preflight(expanding, facts(listening=frozenset({22, 25, 80, 587})))
    assert certbot_d(result) is None  # no name can validate: certbot is not run at all
    lines = acme_lines(result)
    assert len(lines) == 4 and all(
        "a program on the host (a web server?) already listens there" in x for x in lines
    )
    assert all("no certbot request is made" in x for x in lines)
    assert master_cf_fixed(result)
    assert not [c for c in result.changes if c.file is not None and "/live/" in c.file.after.replace(
        c.file.before or "", "")]  # fmt: skip


def test_when_no_name_is_left_the_edits_pointing_at_the_new_lineage_go_too(tmp_path: Path) -> None:
    tree = HostTree(tmp_path, PKI)
    from tests.fix_trees import without_letsencrypt

    without_letsencrypt(tree, PKI)  # services on other files: the plan issues a lineage and repoints them
    before = plan(tree, PKI, inventory_host())
    assert certbot_d(before) == NAMES
    assert any(c.file is not None and "/live/mail.example.test/" in c.file.after for c in before.changes)
    result = preflight(before, facts(*(NameDns(n, (), Outcome.NXDOMAIN) for n in NAMES)))
    assert certbot_d(result) is None
    assert not any(c.file is not None and "/live/mail.example.test/" in c.file.after for c in result.changes)
    assert any(line.startswith("acme: not run, as they need the certificate") for line in result.unfixable)


def test_an_address_lookup_that_fails_is_said_but_the_name_stays(expanding: HostPlan) -> None:
    failed = NameDns(IMAP, (), Outcome.TIMEOUT, "TIMEOUT for imap.example.test A (no answer)")
    result = preflight(expanding, facts(failed))
    assert certbot_d(result) == NAMES
    (line,) = acme_lines(result)
    assert line.startswith(f"acme: {IMAP} could not be checked before the request: TIMEOUT")


# -- CAA (RFC 8659) ------------------------------------------------------------------------------------------


def test_caa_text_is_parsed_as_the_resolver_gives_it() -> None:
    assert parse_caa(['0 issue "letsencrypt.org"', '128 tbs "x"', "junk"]) == [
        CaaRecord(0, "issue", "letsencrypt.org"),
        CaaRecord(128, "tbs", "x"),
    ]


def test_caa_rules() -> None:
    le = "letsencrypt.org"
    assert caa_refusal([], le, wildcard=False) is None
    assert caa_refusal([CaaRecord(0, "iodef", "mailto:x@example.test")], le, wildcard=False) is None
    assert caa_refusal([CaaRecord(0, "issue", "LetsEncrypt.org")], le, wildcard=False) is None
    assert (
        caa_refusal([CaaRecord(0, "issue", ";")], le, wildcard=False)
        == "CAA `issue` allows no CA (`;`), not letsencrypt.org"
    )
    # a wildcard is governed by issuewild when present, else by issue
    wild = [CaaRecord(0, "issue", le), CaaRecord(0, "issuewild", ";")]
    assert caa_refusal(wild, le, wildcard=False) is None
    assert caa_refusal(wild, le, wildcard=True) is not None
    assert caa_refusal([CaaRecord(0, "issue", le)], le, wildcard=True) is None
    assert "critical" in (
        caa_refusal([CaaRecord(128, "tbs", "x"), CaaRecord(0, "issue", le)], le, wildcard=False) or ""
    )


class Recorded:
    """Answers by (name, type); anything else NXDOMAIN. Records which lookups were made."""

    label = "resolver 192.0.2.53:53"

    def __init__(self, answers: dict[tuple[str, str], DnsAnswer]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str]] = []

    def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        self.asked.append((name, rdtype))
        return self.answers.get((name, rdtype), DnsAnswer(name, rdtype, Outcome.NXDOMAIN))


def test_the_closest_caa_rrset_walking_up_governs_and_the_walk_stops_below_the_tld() -> None:
    dns = Recorded({
        ("mail.example.test", "A"): DnsAnswer("mail.example.test", "A", Outcome.OK, ("127.0.0.1",)),
        ("mail.example.test", "CAA"): DnsAnswer("mail.example.test", "CAA", Outcome.NODATA),
        ("example.test", "CAA"): DnsAnswer("example.test", "CAA", Outcome.OK, ('0 issue "sectigo.com"',)),
    })  # fmt: skip
    (found,) = look_up(["mail.example.test"], dns).values()
    assert found.addresses == ("127.0.0.1",) and found.address_outcome is Outcome.OK
    assert found.caa_owner == "example.test" and found.caa == (CaaRecord(0, "issue", "sectigo.com"),)
    assert ("test", "CAA") not in dns.asked
    none = look_up(["imap.other.test"], Recorded({}))["imap.other.test"]
    assert none.address_outcome is Outcome.NXDOMAIN and none.caa_owner is None


def test_ca_domain_is_letsencrypt_org_or_the_inventorys_or_the_servers_host() -> None:
    assert ca_domain(inventory_host()) == "letsencrypt.org"
    assert ca_domain(inventory_host(acme_server="letsencrypt-staging")) == "letsencrypt.org"
    custom = inventory_host(acme_server="https://acme.example.net:14000/dir")
    assert ca_domain(custom) == "acme.example.net"

    named = inventory_host(
        acme_server=custom.acme_server, vars={"mailcert_acme_caa_domain": "PKI.example.net."}
    )
    assert ca_domain(named) == "pki.example.net"


def test_the_edge_looks_up_only_the_requested_names_through_the_given_resolver(expanding: HostPlan) -> None:
    answers = {(n, "A"): DnsAnswer(n, "A", Outcome.OK, (HOST,)) for n in (MAIL, SMTP, POP)}
    dns = Recorded(answers)
    result = with_acme_preflight(expanding, inventory_host(), None, None, lookup=dns)
    assert certbot_d(result) == [MAIL, SMTP, POP]  # imap. is NXDOMAIN there
    assert {name for name, rdtype in dns.asked if rdtype == "A"} == set(NAMES)

    off = inventory_host(vars={"mailcert_acme_preflight": False})
    assert with_acme_preflight(expanding, off, None, None, lookup=Recorded({})) == expanding


def test_a_renewal_whose_lineage_has_a_name_that_cannot_validate_is_not_run(tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from tests.lint_trees import LINEAGE
    from tests.pki import NOW

    leaf = PKI.leaf(NAMES, not_before=NOW - timedelta(days=100), not_after=NOW - timedelta(days=10))
    tree = HostTree(tmp_path, PKI, leaf)
    tree.edit(MASTER_CF, "  -o syslog_name=postfix/submission\n",
              "  -o syslog_name=postfix/submission\n  -o smtpd_tls_wrappermode=yes\n")  # fmt: skip
    before = plan(tree, PKI, inventory_host())
    (renew,) = [c for c in before.changes if c.kind is ChangeKind.ISSUE]
    assert renew.command is not None and renew.command.argv[:2] == ("certbot", "renew")
    renewals = {LINEAGE: (tuple(NAMES), "standalone")}
    result = preflight(before, replace(facts(NameDns(POP, (), Outcome.NXDOMAIN)), renewals=renewals))
    assert certbot_d(result) is None and not [c for c in result.changes if c.kind is ChangeKind.ISSUE]
    (line,) = acme_lines(result)
    assert line.startswith(f"acme: {POP} cannot be validated") and "the renewal is not run" in line
    assert master_cf_fixed(result)
    # a renewal whose names all validate is left alone
    assert preflight(before, replace(facts(), renewals=renewals)) == before


def test_dns_01_needs_the_zone_to_answer_not_an_address() -> None:
    from mailcert.fix.model import Change, Command

    argv = ("certbot", "certonly", "--cert-name", MAIL, "-d", MAIL, "-d", IMAP, "--dns-rfc2136")
    issue = Change(
        ChangeKind.ISSUE, f"issue certificate {MAIL} for {MAIL}, {IMAP} with certbot", command=Command(argv)
    )
    before = HostPlan("mx1", changes=(issue,))
    elsewhere = NameDns(MAIL, ("198.51.100.7",), Outcome.OK)  # fine for DNS-01
    servfail = NameDns(IMAP, (), Outcome.SERVFAIL, "SERVFAIL for imap.example.test A")
    result = preflight(before, facts(elsewhere, servfail))
    assert certbot_d(result) == [MAIL]
    (line,) = acme_lines(result)
    assert (
        line.startswith(f"acme: {IMAP} cannot be validated") and "its zone does not answer (SERVFAIL" in line
    )


def test_a_host_probed_at_a_private_address_whose_name_resolves_to_a_public_one_is_not_refused(
    expanding: HostPlan,
) -> None:
    """Behind NAT: probed at 10.0.0.5, imap. resolves to a public address. Whether the CA reaches the host
    there cannot be told, so the name stays in the request and the plan says so; a private address that
    is not the host's is still refused (the CA would reach another machine of the same network)."""
    private = AcmeFacts(
        {**{n: at_host(n) for n in NAMES}, IMAP: NameDns(IMAP, ("8.8.4.4",), Outcome.OK)},
        frozenset({"10.0.0.5"}),
        frozenset({22, 25, 587}),
        "letsencrypt.org",
        "resolver 192.0.2.53:53",
    )
    result = preflight(expanding, private)
    assert certbot_d(result) is not None and IMAP in (certbot_d(result) or [])
    (line,) = [line for line in result.unfixable if line.startswith(f"acme: {IMAP}")]
    assert "resolves to 8.8.4.4" in line and "certbot is asked for it" in line
    elsewhere = NameDns(IMAP, ("10.0.0.9",), Outcome.OK)
    refused = preflight(expanding, replace(private, names={**private.names, IMAP: elsewhere}))
    assert IMAP not in (certbot_d(refused) or [])
