"""`probe TARGET...` parsing, the port registry, and the argv rewrite that makes `probe a b c` work."""

from __future__ import annotations

import pytest

from mailcert.audit.outside import host_report
from mailcert.checks.certs import CheckOptions
from mailcert.errors import UsageError
from mailcert.model import Mode
from mailcert.pki.trust import TrustStore
from mailcert.probe import STANDARD_PORTS, Observed, ProbeResult, Timeouts, probe_endpoint, target_for
from mailcert.probe.targets import TargetOptions, expand_targets, parse_target
from mailcert.tasks import variadic_argv
from tests.pki import NOW


def test_standard_ports_and_modes() -> None:
    assert {port: (r.protocol, r.mode.value) for port, r in STANDARD_PORTS.items()} == {
        25: ("smtp", "starttls"),
        587: ("smtp", "starttls"),
        465: ("smtp", "implicit"),
        143: ("imap", "starttls"),
        993: ("imap", "implicit"),
        110: ("pop3", "starttls"),
        995: ("pop3", "implicit"),
    }


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("mail.example.com", ("mail.example.com", None)),
        ("mail.example.com:587", ("mail.example.com", 587)),
        ("192.0.2.1:993", ("192.0.2.1", 993)),
        ("[2001:db8::1]:465", ("2001:db8::1", 465)),
        ("2001:db8::1", ("2001:db8::1", None)),
    ],
)
def test_parse_target(word: str, expected: tuple[str, int | None]) -> None:
    assert parse_target(word) == expected


@pytest.mark.parametrize("word", ["mail:0", "mail:99999", "mail:smtp", "[::1", ""])
def test_bad_targets_are_one_clear_error(word: str) -> None:
    with pytest.raises(UsageError):
        parse_target(word)


def test_bare_host_means_every_standard_port_not_required() -> None:
    targets = expand_targets(["mx.example.com"], TargetOptions())
    assert [t.port for t in targets] == [25, 587, 465, 143, 993, 110, 995]
    assert not any(t.required for t in targets)


def test_servername_makes_the_target_the_address() -> None:
    [target] = expand_targets(["192.0.2.7:993"], TargetOptions(servername="imap.example.com"))
    assert (target.hostname, target.address, target.connect_to) == (
        "imap.example.com",
        "192.0.2.7",
        "192.0.2.7",
    )
    assert (target.protocol, target.expected_mode, target.required) == ("imap", Mode.IMPLICIT, True)


def test_nonstandard_port_with_protocol_and_starttls() -> None:
    [target] = expand_targets(["mx:2525"], TargetOptions(protocol="smtp", mode=Mode.STARTTLS))
    assert (target.protocol, target.expected_mode, target.service) == ("smtp", Mode.STARTTLS, "smtp")


def test_nonstandard_port_without_protocol_is_detected_later() -> None:
    [target] = expand_targets(["mx:2525"], TargetOptions())
    assert (target.protocol, target.expected_mode) == (None, None)


def test_forcing_a_mode_on_a_standard_port() -> None:
    [target] = expand_targets(["mx:587"], TargetOptions(mode=Mode.IMPLICIT))
    assert (target.protocol, target.expected_mode) == ("smtp", Mode.IMPLICIT)


def test_protocol_without_port_is_refused() -> None:
    with pytest.raises(UsageError, match="need a port"):
        expand_targets(["mx.example.com"], TargetOptions(protocol="imap"))


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(UsageError, match="smtp, imap, pop3"):
        expand_targets(["mx:2525"], TargetOptions(protocol="ldap"))


def test_variadic_rewrite_with_boolean_and_value_flags() -> None:
    argv = [
        "mailcert",
        "probe",
        "a",
        "b:587",
        "--starttls",
        "c",
        "--format",
        "json",
        "--implicit",
        "d",
        "lint",
        "x",
    ]
    assert variadic_argv(argv) == [
        "mailcert", "probe", "--target", "a", "--target", "b:587", "--starttls", "--target", "c",
        "--format", "json", "--implicit", "--target", "d", "lint", "x",
    ]  # fmt: skip


def test_variadic_rewrite_for_explain_words() -> None:
    argv = ["mailcert", "explain", "target", "principal", "--format", "json", "incorrect"]
    assert variadic_argv(argv) == [
        "mailcert", "explain", "--text", "target", "--text", "principal", "--format", "json", "--text", "incorrect",
    ]  # fmt: skip


def test_unresolvable_names_are_results_not_tracebacks() -> None:
    for bad in ("bad..name", "nul\x00name", "x" * 300):
        result = probe_endpoint(target_for(bad, 25), timeouts=Timeouts(1, 1, 2))
        assert result.observed is Observed.UNREACHABLE
        assert "cannot resolve" in (result.error or "")


def test_a_host_nothing_answers_for() -> None:
    opts = CheckOptions(now=NOW, trust=TrustStore.of([]))
    unresolved = [
        ProbeResult("nx.invalid", None, p, None, Observed.UNREACHABLE, error="cannot resolve nx")
        for p in (25, 993)
    ]
    assert host_report("nx.invalid", unresolved, opts).error == "cannot resolve nx"
    closed = [
        ProbeResult("mx", None, p, None, Observed.UNREACHABLE, error="connection refused", required=False)
        for p in (25, 993)
    ]
    report = host_report("mx", closed, opts)
    # A sweep where no port answers is a down host, not "nothing offered": one finding naming both ports.
    assert [(f.check, f.severity.value) for f in report.findings] == [("tls.unreachable", "critical")]
    assert "mx:25" in report.findings[0].message
    assert "mx:993" in report.findings[0].message
