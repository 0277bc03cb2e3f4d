"""Probe findings fold across names and ports; name checks stay one per name."""

from mailcert.checks.merge import merge_endpoint_findings
from mailcert.model import Finding, Severity


def stale(host: str, port: int) -> Finding:
    return Finding(
        check="tls.stale",
        severity=Severity.CRITICAL,
        message=f"{host}:{port} serves certificate 'mail' serial 1a, but the file on disk holds another",
        fix="reload the service",
        service="dovecot",
        port=port,
        hostname=host,
    )


def test_one_stale_certificate_on_every_name_and_port_is_one_finding() -> None:
    findings = [stale(h, p) for h in ("mail.example.test", "imap.example.test") for p in (143, 993)]
    (merged,) = merge_endpoint_findings(findings)
    assert merged.port is None
    assert merged.hostname is None
    assert merged.message.startswith("mail.example.test:143 serves certificate")
    assert "also mail.example.test:993, imap.example.test:143, imap.example.test:993" in merged.message


def test_same_name_on_several_ports_keeps_the_name() -> None:
    (merged,) = merge_endpoint_findings([stale("mail.example.test", 143), stale("mail.example.test", 993)])
    assert (merged.hostname, merged.port) == ("mail.example.test", None)


def test_name_mismatch_stays_per_name() -> None:
    def mismatch(host: str, port: int) -> Finding:
        return Finding(
            "cert.name-mismatch",
            Severity.CRITICAL,
            f"'{host}' is not covered",
            "expand",
            "postfix",
            port,
            host,
        )

    merged = merge_endpoint_findings([mismatch(h, p) for h in ("a.test", "b.test") for p in (25, 587)])
    assert sorted((f.hostname, f.port) for f in merged) == [("a.test", None), ("b.test", None)]


def test_different_problems_are_not_merged() -> None:
    other = Finding(
        "tls.unreachable", Severity.CRITICAL, "x:110 is unreachable", "start it", "dovecot", 110, "x"
    )
    assert len(merge_endpoint_findings([stale("x", 143), other])) == 2


def test_port_only_findings_say_ports() -> None:
    def missing(port: int) -> Finding:
        return Finding(
            "cert.missing", Severity.CRITICAL, "ssl_cert names /x: no such file", "fix it", "dovecot", port
        )

    (merged,) = merge_endpoint_findings([missing(p) for p in (143, 993, 110)])
    assert merged.message == "ssl_cert names /x: no such file [also ports 993, 110]"
    assert merged.port is None
