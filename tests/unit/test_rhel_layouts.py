"""RHEL 9 hosts (tests/rhel_trees.py, which cites where each default comes from): Postfix + Dovecot, and EPEL's
Exim + Dovecot. Lint parses RHEL's files and finds exactly the faults planted; `fix` repoints RHEL's files to
the certbot lineage, reloads with RHEL's units (exim, not Debian's exim4) and writes nothing Debian-specific."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from mailcert.fix.apply.payload import reloads
from mailcert.fix.model import Change, ChangeKind, HostPlan
from mailcert.fix.plan.planner import plan_from
from mailcert.fix.roles import load_roles
from mailcert.gather.system import UnitState
from mailcert.hostfs import LocalRoot
from mailcert.services.exim.parser import CPANEL_CONF, RHEL_CONF, load_exim_config, parse_exim
from mailcert.services.registry import detect_roles
from tests.fix_trees import apply_locally, inventory_host, lint, plan, problems, read
from tests.lint_trees import LINEAGE, LIVE, NAMES
from tests.pki import NOW
from tests.rhel_trees import (
    DOVECOT_CERT,
    DOVECOT_KEY,
    DOVECOT_SSL,
    EXIM_CERT,
    EXIM_CONF,
    EXIM_KEY,
    POSTFIX_CERT,
    POSTFIX_KEY,
    TIMER,
    TIMER_WANTS,
    RhelTree,
)
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI
HOOK = "/etc/letsencrypt/renewal-hooks/deploy/reload-mail"
Fault = Callable[[RhelTree], None]


@pytest.fixture(params=["postfix", "exim"])
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> RhelTree:
    return RhelTree(tmp_path, PKI, mta=request.param)


def _tree(tmp_path: Path, mta: str) -> RhelTree:
    return RhelTree(tmp_path, PKI, mta=mta)


# --- the faults, planted as admins leave them ----------------------------------------------------------------


def postfix_leaf_only(t: RhelTree) -> None:
    t.edit("/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", f"{LIVE}/cert.pem")


def dovecot_package_default(t: RhelTree) -> None:
    """10-ssl.conf never repointed: Dovecot serves the self-signed pair mkcert.sh made at first start."""
    t.edit(DOVECOT_SSL, f"<{LIVE}/fullchain.pem", f"<{DOVECOT_CERT}")
    t.edit(DOVECOT_SSL, f"<{LIVE}/privkey.pem", f"<{DOVECOT_KEY}")


def exim_package_default(t: RhelTree) -> None:
    """exim.conf as EPEL ships it: the self-signed pair exim-gen-cert made."""
    t.edit(EXIM_CONF, f"{LIVE}/fullchain.pem", EXIM_CERT)
    t.edit(EXIM_CONF, f"{LIVE}/privkey.pem", EXIM_KEY)


def expired(t: RhelTree) -> None:
    t.lineage(LINEAGE, PKI.leaf(NAMES, not_after=NOW - timedelta(days=3)), version=2)


def missing_intermediate(t: RhelTree) -> None:
    """A certificate bought elsewhere, put where RHEL keeps certificates, without its intermediate."""
    leaf = PKI.leaf(NAMES)
    t.write("/etc/pki/tls/certs/mail.example.test.crt", leaf.pem)
    t.write("/etc/pki/tls/private/mail.example.test.key", leaf.key_pem(), mode=0o600)
    t.edit(t.mta_config, f"{LIVE}/fullchain.pem", "/etc/pki/tls/certs/mail.example.test.crt")
    t.edit(t.mta_config, f"{LIVE}/privkey.pem", "/etc/pki/tls/private/mail.example.test.key")


def no_reload_hook(t: RhelTree) -> None:
    t.path(HOOK).unlink()


def timer_not_enabled(t: RhelTree) -> None:
    """EPEL's certbot-renew.timer is shipped disabled; here the admin never enabled it."""
    t.path(TIMER_WANTS).unlink()


SELF_SIGNED = {"cert.self-signed", "cert.name-mismatch"}
# (tree, fault) → what lint finds: (check, service)
CASES: dict[str, tuple[str, Fault, set[tuple[str, str | None]]]] = {
    "postfix leaf-only cert.pem": ("postfix", postfix_leaf_only, {("config.cert-not-fullchain", "postfix")}),
    "dovecot on /etc/pki/dovecot": (
        "postfix",
        dovecot_package_default,
        {(c, "dovecot") for c in SELF_SIGNED},
    ),
    "dovecot on /etc/pki/dovecot, exim host": (
        "exim",
        dovecot_package_default,
        {(c, "dovecot") for c in SELF_SIGNED},
    ),
    "exim on /etc/pki/tls/certs/exim.pem": ("exim", exim_package_default, {(c, "exim") for c in SELF_SIGNED}),
    # an expired lineage certificate also means certbot has not renewed it for days
    "expired, postfix": (
        "postfix",
        expired,
        {("cert.expired", "postfix"), ("cert.expired", "dovecot"), ("renewal.overdue", None)},
    ),
    "expired, exim": (
        "exim",
        expired,
        {("cert.expired", "exim"), ("cert.expired", "dovecot"), ("renewal.overdue", None)},
    ),
    "missing intermediate, postfix": (
        "postfix",
        missing_intermediate,
        {("config.cert-not-fullchain", "postfix")},
    ),
    "missing intermediate, exim": ("exim", missing_intermediate, {("config.cert-not-fullchain", "exim")}),
    # (Exim reads its certificate per connection: only Dovecot needs the reload on the exim host)
    "no deploy hook, postfix": ("postfix", no_reload_hook, {("renewal.no-reload-hook", None)}),
    "no deploy hook, exim": ("exim", no_reload_hook, {("renewal.no-reload-hook", "dovecot")}),
    "certbot-renew.timer not enabled": ("postfix", timer_not_enabled, {("renewal.not-configured", None)}),
}


# --- lint --------------------------------------------------------------------------------------------------


def test_healthy_rhel_hosts_lint_clean(tree: RhelTree) -> None:
    report, model = lint(tree, PKI, NAMES)
    assert problems(report) == set()
    mta_ports = [(tree.mta, 25, "starttls"), (tree.mta, 465, "implicit"), (tree.mta, 587, "starttls")]
    dovecot_ports = [("dovecot", 110, "starttls"), ("dovecot", 143, "starttls"), ("dovecot", 993, "implicit")]
    dovecot_ports.append(("dovecot", 995, "implicit"))
    assert sorted((e.service, e.port, e.mode.value) for e in report.endpoints) == sorted(
        [*mta_ports, *dovecot_ports]
    )
    assert all(e.configured and e.configured.cert_file == f"{LIVE}/fullchain.pem" for e in report.endpoints)
    files_read = {path for service in model.services for path in service.files_read}  # type: ignore[attr-defined]
    assert DOVECOT_SSL in files_read
    assert (RHEL_CONF if tree.mta == "exim" else "/etc/postfix/main.cf") in files_read


def test_exim_role_is_detected_from_etc_exim_exim_conf(tmp_path: Path) -> None:
    assert "exim" in detect_roles(LocalRoot(_tree(tmp_path / "exim", "exim").root))
    assert "exim" not in detect_roles(LocalRoot(_tree(tmp_path / "postfix", "postfix").root))


def test_exim_reads_etc_exim_exim_conf_and_cpanel_still_wins(tmp_path: Path) -> None:
    t = _tree(tmp_path, "exim")
    config = load_exim_config(LocalRoot(t.root))
    assert config is not None and config.config_file == RHEL_CONF
    assert config.option("tls_certificate") == f"{LIVE}/fullchain.pem"
    # cPanel runs on Alma/Rocky too, and its exim reads /etc/exim.conf
    t.write(
        CPANEL_CONF,
        read(t, EXIM_CONF).replace("daemon_smtp_ports = 25 : 465 : 587", "daemon_smtp_ports = 25"),
    )
    config = load_exim_config(LocalRoot(t.root))
    assert config is not None and config.config_file == CPANEL_CONF
    t.path(CPANEL_CONF).unlink()
    t.path(EXIM_CONF).unlink()
    (finding,) = parse_exim(LocalRoot(t.root)).findings
    assert RHEL_CONF in finding.message


@pytest.mark.parametrize("case", list(CASES))
def test_lint_finds_exactly_the_planted_fault(tmp_path: Path, case: str) -> None:
    mta, fault, expected = CASES[case]
    t = _tree(tmp_path, mta)
    fault(t)
    assert problems(lint(t, PKI, NAMES)[0]) == expected


# --- fix ---------------------------------------------------------------------------------------------------

RHEL_FILES = {
    "/etc/postfix/main.cf",
    EXIM_CONF,
    DOVECOT_SSL,
    "/etc/letsencrypt/renewal-hooks/deploy/mailcert-reload",
}
RELOADS = {service: ("systemctl", "reload", service) for service in ("postfix", "dovecot", "exim")}


def _words(result: HostPlan) -> str:
    """Everything the plan would write or run, as one text."""
    parts = [" ".join(v.argv) for v in result.validations]
    for change in result.changes:
        parts.append(change.description)
        if change.command is not None:
            parts.append(" ".join(change.command.argv))
        if change.file is not None:
            parts += [change.file.path, change.file.after]
    return "\n".join(parts)


@pytest.mark.parametrize("case", list(CASES))
def test_fix_uses_rhel_paths_and_commands_and_a_second_run_is_empty(tmp_path: Path, case: str) -> None:
    mta, fault, _expected = CASES[case]
    t = _tree(tmp_path, mta)
    fault(t)
    result = plan(t, PKI, inventory_host())
    assert result.error is None and result.unfixable == ()
    assert {c.file.path for c in result.changes if c.file is not None} <= RHEL_FILES
    text = _words(result)
    assert "exim4" not in text and "/etc/exim4" not in text and "update-exim4.conf" not in text
    for change in result.changes:
        if change.kind is ChangeKind.RELOAD:
            assert change.service is not None and change.command is not None
            assert change.command.argv == RELOADS[change.service]
    apply_locally(t, PKI, result)
    for path in {c.file.path for c in result.changes if c.file is not None} & {t.mta_config, DOVECOT_SSL}:
        assert f"{LIVE}/fullchain.pem" in read(t, path)  # repointed to the lineage
    assert problems(lint(t, PKI, NAMES)[0]) == set()
    assert plan(t, PKI, inventory_host()).changes == ()


def test_the_deploy_hook_reloads_with_rhel_units(tmp_path: Path) -> None:
    t = _tree(tmp_path, "postfix")
    no_reload_hook(t)
    (hook,) = [c for c in plan(t, PKI, inventory_host()).changes if c.file is not None]
    assert "systemctl reload postfix" in hook.file.after  # type: ignore[union-attr]
    assert "systemctl reload dovecot" in hook.file.after  # type: ignore[union-attr]


def test_epels_disabled_timer_is_enabled_and_a_restore_disables_it(tmp_path: Path) -> None:
    t = _tree(tmp_path, "postfix")
    timer_not_enabled(t)
    (change,) = plan(t, PKI, inventory_host()).changes
    assert change.kind is ChangeKind.COMMAND and change.command is not None and change.undo is not None
    assert change.command.argv == ("systemctl", "enable", "--now", "certbot-renew.timer")
    assert change.undo.argv == ("systemctl", "disable", "--now", "certbot-renew.timer")


def test_installing_certbot_with_dnf_enables_its_timer(tmp_path: Path) -> None:
    """--install-certbot on a RHEL host before certbot: dnf installs EPEL's package, whose timer ships off."""
    t = _tree(tmp_path, "postfix")
    dovecot_package_default(t)
    t.edit("/etc/postfix/main.cf", f"{LIVE}/fullchain.pem", POSTFIX_CERT)
    t.edit("/etc/postfix/main.cf", f"{LIVE}/privkey.pem", POSTFIX_KEY)
    shutil.rmtree(t.path("/etc/letsencrypt"))
    for path in ("/usr/bin/certbot", f"/usr/lib/systemd/system/{TIMER}", TIMER_WANTS):
        t.path(path).unlink()
    t.write("/usr/bin/dnf", "#!/bin/sh\n", mode=0o755)
    host = inventory_host()
    report, model = lint(t, PKI, list(host.hostnames))
    result = plan_from(LocalRoot(t.root), model, report, host, now=NOW, install_certbot=True)  # type: ignore[arg-type]
    assert result.error is None, result.error
    steps = [(c.kind, c.command.argv[:3] if c.command else None) for c in result.changes]
    assert steps[:2] == [
        (ChangeKind.INSTALL, ("dnf", "install", "-y")),
        (ChangeKind.ISSUE, ("certbot", "certonly", "--non-interactive")),
    ]
    assert (ChangeKind.COMMAND, ("systemctl", "enable", "--now")) in steps


# --- which unit: gathered units, unit files, the host-side reload ---------------------------------------------


def _unit(name: str, load: str, active: str) -> UnitState:
    return UnitState(name, load, active, None, None, None)


@pytest.mark.parametrize(
    ("loaded", "expected"),
    [("exim.service", ("systemctl", "reload", "exim")), ("exim4.service", ("systemctl", "reload", "exim4"))],
)
def test_gathered_units_decide_the_exim_reload(
    tmp_path: Path, loaded: str, expected: tuple[str, ...]
) -> None:
    t = _tree(tmp_path, "exim")
    t.path("/usr/lib/systemd/system/exim.service").unlink()  # gathered hosts: systemctl tells, not files
    exim_package_default(t)
    other = "exim4.service" if loaded == "exim.service" else "exim.service"
    units = {loaded: _unit(loaded, "loaded", "active"), other: _unit(other, "not-found", "inactive")}
    host = inventory_host()
    report, model = lint(t, PKI, list(host.hostnames))
    result = plan_from(LocalRoot(t.root), model, report, host, now=NOW, units=units)  # type: ignore[arg-type]
    (reload,) = [c for c in result.changes if c.kind is ChangeKind.RELOAD]
    assert reload.command is not None and reload.command.argv == expected


def test_host_side_reload_tries_exim_service_first() -> None:
    """A RELOAD without a command (central renewal) is resolved on the host: RHEL's unit, then Debian's."""
    plan_ = HostPlan(host="mx1", changes=(Change(ChangeKind.RELOAD, "reload exim", service="exim"),))
    ((text, _label),) = reloads(plan_, load_roles())
    assert text.startswith(
        "if [ -d /run/systemd/system ] && systemctl is-active --quiet exim.service; then systemctl reload exim; "
        "elif "
    )
    assert "then systemctl reload exim4; else sh -c" in text


def test_renewal_advice_names_rhels_exim_unit(tmp_path: Path) -> None:
    """A setting pointing into archive/: the fix text says how RHEL reloads Exim."""
    t = _tree(tmp_path, "exim")
    t.edit(EXIM_CONF, f"{LIVE}/fullchain.pem", f"/etc/letsencrypt/archive/{LINEAGE}/fullchain1.pem")
    report, _model = lint(t, PKI, NAMES)
    (finding,) = [f for f in report.findings if f.check == "renewal.unmanaged-path"]
    assert "`systemctl reload exim`" in finding.fix
