"""Central mode in the plan: the certbot command run on the control machine for the host's CSR (DNS-01
through certbot-dns-rfc2136, its own config/work/logs folders), services pointed at the host's central
folder, and the inventory's mistakes (no credentials, wrong challenge, an inline secret) said in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcert.fix.acme.central import CentralError, _credentials, reason
from mailcert.fix.model import ChangeKind
from tests.fix_trees import inventory_host, plan, without_letsencrypt
from tests.lint_trees import NAMES, HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
LIVE = "/etc/mailcert/live/mail.example.test"
SERVER = "https://10.213.0.1:14001/dir"


@pytest.fixture
def bare(tmp_path: Path) -> HostTree:
    tree = HostTree(tmp_path / "host", PKI)
    without_letsencrypt(tree, PKI)
    return tree


def central(tmp_path: Path, **extra: object) -> dict[str, object]:
    return {
        "mailcert_hostnames": NAMES,  # as the inventory writes it: central mode requests only granted names
        "mailcert_acme_dns_credentials": "/etc/mailcert/rfc2136.ini",
        "mailcert_central_state_dir": str(tmp_path / "control"),
        "mailcert_acme_dns_propagation_seconds": 5,
        **extra,
    }


def test_central_plan_runs_certbot_for_the_csr_on_the_control_machine(bare: HostTree, tmp_path: Path) -> None:
    host = inventory_host(
        acme_mode="central", acme_challenge="dns-rfc2136", acme_server=SERVER, vars=central(tmp_path)
    )
    result = plan(bare, PKI, host)
    assert result.error is None, result.error
    issue = result.changes[0]
    assert issue.kind is ChangeKind.ISSUE and issue.command is not None
    state = tmp_path / "control"
    folder = state / "mx1" / "mail.example.test"
    names = [w for n in NAMES for w in ("-d", n)]
    assert issue.command.argv == (
        "certbot", "certonly", "--non-interactive", "--agree-tos", "--cert-name", "mail.example.test", *names,
        "--email", "postmaster@example.test", "--server", SERVER, "--csr", f"{folder}/csr.pem",
        "--cert-path", f"{folder}/new/cert.pem", "--chain-path", f"{folder}/new/chain.pem",
        "--fullchain-path", f"{folder}/new/fullchain.pem",
        "--preferred-challenges", "dns", "--dns-rfc2136", "--dns-rfc2136-credentials", "/etc/mailcert/rfc2136.ini",
        "--dns-rfc2136-propagation-seconds", "5",
        "--config-dir", f"{state}/config", "--work-dir", f"{state}/work", "--logs-dir", f"{state}/logs",
    )  # fmt: skip
    edited = {c.file.path: c.file.after for c in result.changes if c.kind is ChangeKind.EDIT and c.file}
    assert (
        f"smtpd_tls_cert_file = {LIVE}/fullchain.pem\nsmtpd_tls_key_file = {LIVE}/privkey.pem\n"
        in (edited["/etc/postfix/main.cf"])
    )


def test_environment_credentials_are_named_not_shown(bare: HostTree, tmp_path: Path) -> None:
    vars_ = central(tmp_path, mailcert_acme_dns_credentials_env="MAILCERT_TSIG")
    del vars_["mailcert_acme_dns_credentials"]
    host = inventory_host(acme_mode="central", acme_challenge="dns-rfc2136", acme_server=SERVER, vars=vars_)
    issue = plan(bare, PKI, host).changes[0]
    assert issue.command is not None
    assert "<environment MAILCERT_TSIG>" in issue.command.argv


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({"mailcert_tsig_secret": "c2VjcmV0"}, "refusing the inline secret mailcert_tsig_secret"),
        (
            {"mailcert_acme_dns_credentials": "dns_rfc2136_secret = c2VjcmV0"},
            "holds text, not a file path: refusing an inline secret",
        ),
    ],
)
def test_inline_secrets_are_refused_in_one_line(
    bare: HostTree, tmp_path: Path, extra: dict[str, object], said: str
) -> None:
    host = inventory_host(
        acme_mode="central", acme_challenge="dns-rfc2136", acme_server=SERVER, vars=central(tmp_path, **extra)
    )
    result = plan(bare, PKI, host)
    assert result.error is not None and said in result.error
    assert "\n" not in result.error and "c2VjcmV0" not in result.error
    assert not result.changes


def test_without_credentials_or_with_another_challenge_nothing_is_issued(
    bare: HostTree, tmp_path: Path
) -> None:
    vars_ = central(tmp_path)
    del vars_["mailcert_acme_dns_credentials"]
    host = inventory_host(acme_mode="central", acme_challenge="dns-rfc2136", acme_server=SERVER, vars=vars_)
    result = plan(bare, PKI, host)
    assert not [c for c in result.changes if c.kind is ChangeKind.ISSUE]
    assert any("mailcert_acme_dns_credentials" in line for line in result.unfixable)
    host = inventory_host(acme_mode="central", acme_challenge="standalone", vars=central(tmp_path))
    result = plan(bare, PKI, host)
    assert not [c for c in result.changes if c.kind is ChangeKind.ISSUE]
    assert any("set mailcert_acme_challenge to dns-rfc2136" in line for line in result.unfixable)


def test_dns_update_failures_are_said_plainly() -> None:
    assert "rejected the TSIG key" in reason(
        "Encountered error adding TXT record: The peer didn't like the signature we sent"
    )
    assert "refused the update" in reason("Received response from server: REFUSED")


def test_credentials_from_the_environment_go_to_a_private_file_only_while_certbot_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = inventory_host(vars={"mailcert_acme_dns_credentials_env": "MC_TSIG"})
    monkeypatch.setenv("MC_TSIG", "dns_rfc2136_secret = c2VjcmV0")
    path, temp = _credentials(host, "<environment MC_TSIG>", tmp_path)
    assert temp is not None and path == str(temp)
    assert temp.stat().st_mode & 0o777 == 0o600
    assert temp.read_text() == "dns_rfc2136_secret = c2VjcmV0\n"
    monkeypatch.delenv("MC_TSIG")
    with pytest.raises(CentralError) as raised:
        _credentials(host, "<environment MC_TSIG>", tmp_path)
    assert "MC_TSIG" in raised.value.line() and "\n" not in raised.value.line()
    with pytest.raises(CentralError) as missing:
        _credentials(host, str(tmp_path / "nope.ini"), tmp_path)
    assert "missing or unreadable" in missing.value.line()
