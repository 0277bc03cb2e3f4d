"""The lab's pure parts, no root needed: fault plans, SPEC's `lab` command forms, and the Postfix
configuration the lab writes and its faults edit, checked with the real `postconf`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mailcert.lab import LabError, lifecycle
from mailcert.lab.certs import HostPKI
from mailcert.lab.faults import DEMO_MIX, FaultSite, assign_faults, fault_named
from mailcert.lab.kinds.postfix import configure
from mailcert.lab.layout import LabHost
from mailcert.lab.network import host_address, is_lab_address
from mailcert.lab.state import pointer_dir
from mailcert.lab.systemroot import debian13_installed, debian13_root
from mailcert.tasks.lab import lab_argv

HOSTS = ["mx1", "mx2", "mx3"]


def test_faults_none_and_empty_plant_nothing() -> None:
    assert assign_faults("none", HOSTS) == {"mx1": [], "mx2": [], "mx3": []}
    assert assign_faults("", HOSTS) == {"mx1": [], "mx2": [], "mx3": []}


def test_fault_name_alone_goes_to_every_host_and_host_prefix_to_one() -> None:
    plan = assign_faults("leaf-only,mx2:expired", HOSTS)
    assert plan == {"mx1": ["leaf-only"], "mx2": ["leaf-only", "expired"], "mx3": ["leaf-only"]}


def test_demo_gives_each_host_a_different_representative_mix() -> None:
    plan = assign_faults("demo", HOSTS)
    assert [plan[h] for h in HOSTS] == [list(DEMO_MIX[0]), list(DEMO_MIX[1]), list(DEMO_MIX[2])]
    assert len({tuple(v) for v in plan.values()}) == 3
    planted = {f for faults in DEMO_MIX for f in faults}
    assert {
        "stale",
        "leaf-only",
        "wrong-mode-587",
        "dovecot-missing-lt",
        "name-mismatch",
        "expired",
    } <= planted


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("leaf-onyl", "unknown fault 'leaf-onyl'"),
        ("mx9:expired", "no lab host named 'mx9'"),
        ("mx1:expired,mx1:self-signed", "each replace the certificate"),
    ],
)
def test_bad_fault_plans_are_one_clear_error(spec: str, says: str) -> None:
    with pytest.raises(LabError, match=says):
        assign_faults(spec, HOSTS)


KINDS = {"mx1": "debian13", "mx2": "postfix-dovecot", "mx3": "cpanel"}


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("mx1:dovecot-missing-lt", "dovecot-missing-lt cannot be planted on mx1, a debian13 host: it exists on"
         " postfix-dovecot or exim-dovecot hosts only"),
        ("mx2:dovecot-file-lt", "dovecot-file-lt cannot be planted on mx2, a postfix-dovecot host: it exists on"
         " debian13 hosts only"),
        ("mx2:cpanel-stale-sni", "cpanel-stale-sni cannot be planted on mx2, a postfix-dovecot host"),
        ("dovecot-file-lt", "cannot be planted on mx2, a postfix-dovecot host"),  # every host: mx2 does not fit
    ],
)  # fmt: skip
def test_a_fault_the_hosts_kind_cannot_have_is_refused_in_the_plan(spec: str, says: str) -> None:
    with pytest.raises(LabError) as refused:
        assign_faults(spec, list(KINDS), KINDS)
    assert says in refused.value.line()
    assert "\n" not in refused.value.line()


def test_faults_that_fit_each_kind_are_planned() -> None:
    plan = assign_faults(
        "mx1:dovecot-file-lt,mx2:dovecot-missing-lt,mx3:cpanel-stale-sni,mx1:leaf-only", list(KINDS), KINDS
    )
    assert plan == {
        "mx1": ["dovecot-file-lt", "leaf-only"],
        "mx2": ["dovecot-missing-lt"],
        "mx3": ["cpanel-stale-sni"],
    }


def test_demo_plants_the_missing_lt_in_the_syntax_of_each_hosts_dovecot() -> None:
    # DEMO_MIX[1] holds dovecot-missing-lt: a debian13 host (Dovecot 2.4) gets the same mistake in 2.4 syntax
    hosts = ["mx1", "mx2", "mx3", "mx4"]
    kinds = {"mx1": "postfix-dovecot", "mx2": "debian13", "mx3": "debian13", "mx4": "postfix-dovecot"}
    plan = assign_faults("demo", hosts, kinds)
    assert plan["mx2"] == ["leaf-only", "wrong-mode-587", "dovecot-file-lt"]
    assert plan["mx1"] == list(DEMO_MIX[0]) and plan["mx3"] == list(DEMO_MIX[2])
    assert assign_faults("demo", ["mx1", "mx2"], {"mx2": "postfix-dovecot"})["mx2"] == list(DEMO_MIX[1])


def test_lab_up_refuses_a_misfit_fault_before_building_anything(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("lab up needs root; CI runs it as root")
    if not debian13_installed():  # as root `make test` has built it: missing means broken, not skipped
        pytest.fail(
            f"no Debian 13 root in {debian13_root()} although running as root: run scripts/install-debian13"
        )
    lab_dir = tmp_path / "lab"
    owner = pointer_dir()
    with pytest.raises(LabError, match="dovecot-missing-lt cannot be planted on mx1, a debian13 host"):
        lifecycle.up(lab_dir, 1, "dovecot-missing-lt", ["debian13"], say=lambda _: None)
    assert not lab_dir.exists()
    assert pointer_dir() == owner


def test_spec_command_forms_reach_the_lab_collection() -> None:
    assert lab_argv(["mailcert", "lab", "up", "--hosts", "2"]) == ["mailcert", "lab.up", "--hosts", "2"]
    assert lab_argv(["mailcert", "lab", "exec", "mx1", "--", "postconf", "-h", "a b"]) == [
        "mailcert", "lab.exec", "mx1", "--command", '["postconf", "-h", "a b"]',
    ]  # fmt: skip
    assert lab_argv(["mailcert", "lint", "lab/hosts/mx1/root"]) == ["mailcert", "lint", "lab/hosts/mx1/root"]
    assert lab_argv(["mailcert", "lab", "--help"]) == ["mailcert", "--list"]


def test_lab_addresses_stay_in_the_lab_range() -> None:
    assert host_address(0) == "10.213.0.11"
    assert is_lab_address(host_address(5))
    assert not is_lab_address("192.0.2.1")
    assert not is_lab_address("not an address")


needs_postconf = pytest.mark.skipif(  # as root `make test` installs Postfix: missing then fails loudly
    shutil.which("postconf") is None and os.geteuid() != 0, reason="postfix is not installed"
)


def _postconf(conf: Path, *args: str) -> str:
    done = subprocess.run(["postconf", "-c", str(conf), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _host(tmp_path: Path) -> LabHost:
    host = LabHost("mx1", "postfix-dovecot", "10.213.0.11", tmp_path)
    configure(host)
    return host


def _site(host: LabHost) -> FaultSite:
    return FaultSite(host, pki=HostPKI.__new__(HostPKI))  # these faults only edit config files


@needs_postconf
def test_healthy_postfix_config_as_postconf_reads_it(tmp_path: Path) -> None:
    conf = _host(tmp_path).path("/etc/postfix")
    assert _postconf(conf, "-h", "smtpd_tls_cert_file").endswith("/live/mail.mx1.mailcert.test/fullchain.pem")
    services = _postconf(conf, "-M")
    assert "submission inet" in services and "submissions inet" in services
    assert _postconf(conf, "-P", "submissions/inet/smtpd_tls_wrappermode") == (
        "submissions/inet/smtpd_tls_wrappermode = yes"
    )
    assert _postconf(conf, "-P", "submission/inet/smtpd_tls_wrappermode") == ""
    assert _postconf(conf, "-P", "submission/inet/smtpd_tls_security_level").endswith("= encrypt")


@needs_postconf
def test_wrong_mode_faults_as_postconf_reads_them(tmp_path: Path) -> None:
    host = _host(tmp_path)
    conf = host.path("/etc/postfix")
    fault_named("wrong-mode-587").plant(_site(host))
    assert _postconf(conf, "-P", "submission/inet/smtpd_tls_wrappermode").endswith("= yes")
    fault_named("wrong-mode-465").plant(_site(host))
    assert _postconf(conf, "-P", "submissions/inet/smtpd_tls_wrappermode") == ""


@needs_postconf
def test_leaf_only_fault_points_postfix_at_cert_pem(tmp_path: Path) -> None:
    host = _host(tmp_path)
    fault_named("leaf-only").plant(_site(host))
    assert _postconf(host.path("/etc/postfix"), "-h", "smtpd_tls_cert_file").endswith("/cert.pem")
