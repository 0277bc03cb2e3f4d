"""`mailcert verify`'s output for cron and Nagios, from reports built by hand (expected text written out
by hand), and its reading of certbot's real `renew --dry-run` output (recorded from certbot 2.1.0)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mailcert.model import ConfiguredCert, Endpoint, Finding, HostReport, Mode, Report, ServedCert, Severity
from mailcert.ssh import RemoteOutput
from mailcert.verify import Thresholds, problem_lines, render_nagios, render_problems
from mailcert.verify.renew_dry_run import RENEW_DRY_RUN, dry_run_findings, renew_dry_run

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DATA = Path(__file__).parent.parent / "data" / "verify"


def endpoint(service: str, port: int, not_after: datetime | None, *, served: bool = True) -> Endpoint:
    configured = ConfiguredCert("/etc/letsencrypt/live/mx/fullchain.pem", None, "aa" * 32, not_after)
    cert = (
        ServedCert("aa" * 32, not_after, ("mail.example.test",), 2, "TLSv1.3")
        if served and not_after
        else None
    )
    return Endpoint(service, port, Mode.STARTTLS, ("mail.example.test",), configured, cert)


def report(*hosts: HostReport) -> Report:
    return Report(generated_at=NOW, evaluated_at=NOW, hosts=hosts)


HEALTHY = report(
    HostReport("mx1", endpoints=(endpoint("postfix", 25, datetime(2026, 8, 1, tzinfo=UTC)),)),
    HostReport(
        "mx2",
        endpoints=(endpoint("dovecot", 993, datetime(2026, 8, 30, tzinfo=UTC)),),
        findings=(Finding("cert.weak-key", Severity.INFO, "an informational note", "nothing to do"),),
    ),
)

STALE = Finding(
    "tls.stale",
    Severity.CRITICAL,
    "serves the old certificate",
    "reload dovecot",
    service="dovecot",
    port=993,
)
EXPIRING = Finding(
    "cert.expiring", Severity.WARNING, "expires in 12 days", "renew it", service="postfix", port=25
)
NO_HOOK = Finding(
    "renewal.no-reload-hook",
    Severity.CRITICAL,
    "nothing reloads dovecot\nafter a renewal",
    "add a deploy hook",
    file="/etc/letsencrypt/renewal/mx.conf",
)
SKEW = Finding("host.clock-skew", Severity.WARNING, "clock 90 s behind", "run chrony")


def test_a_healthy_fleet_prints_nothing_and_exits_0() -> None:
    assert render_problems(HEALTHY) == ""  # info findings are not problems
    assert HEALTHY.status.exit_code == 0


def test_one_line_per_problem_most_severe_first_with_the_fix() -> None:
    broken = report(
        HostReport("mx1", findings=(EXPIRING, STALE, SKEW, NO_HOOK)),
        HostReport("mx2", error="cannot connect to 10.0.0.2:22: connection refused"),
    )
    assert problem_lines(broken) == [
        "mx1 dovecot:993 tls.stale — serves the old certificate; fix: reload dovecot",
        "mx1 /etc/letsencrypt/renewal/mx.conf renewal.no-reload-hook — nothing reloads dovecot after a renewal; "
        "fix: add a deploy hook",
        "mx1 postfix:25 cert.expiring — expires in 12 days; fix: renew it",
        "mx1 host.clock-skew — clock 90 s behind; fix: run chrony",
        "mx2 host.unreachable — cannot connect to 10.0.0.2:22: connection refused",
    ]
    assert broken.status.exit_code == 2


def test_control_characters_from_a_host_cannot_reach_the_terminal() -> None:
    hostile = Finding(
        "config.syntax", Severity.CRITICAL, "value \x1b[2Jcleared", "fix\x07it", service="postfix"
    )
    [line] = problem_lines(report(HostReport("mx1", findings=(hostile,))))
    assert "\x1b" not in line and "\x07" not in line and "\\x1b[2Jcleared" in line


def test_nagios_status_line_with_days_left_per_endpoint() -> None:
    broken = report(
        HostReport(
            "mx1",
            endpoints=(
                endpoint("postfix", 25, datetime(2026, 6, 13, 12, tzinfo=UTC)),  # 12.5 days → 12
                endpoint("dovecot", 993, datetime(2026, 5, 30, tzinfo=UTC)),  # expired 2 days ago
            ),
            findings=(EXPIRING, STALE, NO_HOOK),
        ),
        HostReport("mx2", endpoints=(endpoint("postfix", 465, datetime(2026, 7, 1, tzinfo=UTC)),)),
    )
    line = render_nagios(broken, {"mx2": Thresholds(warn_days=30, crit_days=14)})
    assert line == (
        "MAILCERT CRITICAL - 2 critical, 1 warning | "
        "'mx1_postfix_25_days'=12;21;7 'mx1_dovecot_993_days'=-2;21;7 'mx2_postfix_465_days'=30;30;14\n"
    )


def test_nagios_ok_and_unknown_lines() -> None:
    assert render_nagios(HEALTHY) == (
        "MAILCERT OK - 2 hosts, 2 endpoints OK | 'mx1_postfix_25_days'=61;21;7 'mx2_dovecot_993_days'=90;21;7\n"
    )
    down = report(HostReport("mx9", error="connection refused"))
    assert down.status.exit_code == 3
    assert render_nagios(down) == "MAILCERT UNKNOWN - 1 host not checked\n"


def test_nagios_perfdata_labels_stay_parseable() -> None:
    odd = report(
        HostReport("mx 1='x'", endpoints=(endpoint("postfix", 25, datetime(2026, 6, 2, tzinfo=UTC)),))
    )
    assert render_nagios(odd).endswith("| 'mx_1__x__postfix_25_days'=1;21;7\n")


def _recorded(name: str, status: int) -> RemoteOutput:
    return RemoteOutput((DATA / f"{name}.stdout").read_text(), (DATA / f"{name}.stderr").read_text(), status)


def test_certbot_dry_run_failure_becomes_renewal_not_configured_with_certbots_reason() -> None:
    [finding] = dry_run_findings(_recorded("renew-dry-run-failed", 1))
    assert finding.check == "renewal.not-configured" and finding.severity is Severity.WARNING
    assert finding.message == (
        "`certbot renew --dry-run` fails for lineage mail.example.test: You should register before running "
        "non-interactively, or provide --agree-tos and --email <email_address> flags."
    )


def test_certbot_dry_run_with_nothing_to_renew_is_fine() -> None:
    assert dry_run_findings(_recorded("renew-dry-run-none", 0)) == []


def test_certbot_missing_or_failing_without_a_lineage_line() -> None:
    [missing] = dry_run_findings(RemoteOutput("", "sh: 1: certbot: not found\n", 127))
    assert "certbot is not installed" in missing.message
    [locked] = dry_run_findings(
        RemoteOutput(
            "",
            "Saving debug log to /var/log/letsencrypt/letsencrypt.log\nAnother instance of Certbot is already running.\n",
            1,
        )
    )
    assert (
        locked.message == "`certbot renew --dry-run` failed: Another instance of Certbot is already running."
    )


def test_dry_run_command_is_an_argument_list_run_as_root() -> None:
    calls: list[list[str]] = []

    class Host:
        def execute_as_root(self, argv: list[str], *, timeout: int = 0) -> RemoteOutput:
            calls.append(argv)
            return RemoteOutput("No simulated renewals were attempted.\n", "", 0)

    assert renew_dry_run(Host()) == []
    assert calls == [["certbot", "renew", "--dry-run", "--no-random-sleep-on-renew"]] == [RENEW_DRY_RUN]
