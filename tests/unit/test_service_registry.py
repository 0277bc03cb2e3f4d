"""One descriptor per service (issue 20): every service of services/registry has its role file and exactly
one planner in fix/plan/services.py, and every list of services elsewhere is the registry's."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcert.audit.options import checked_roles
from mailcert.cli import build_program
from mailcert.errors import InventoryError
from mailcert.fix.apply.payload import touched_services
from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan
from mailcert.fix.plan.services import PLANNERS
from mailcert.fix.roles import default_paths, load_roles
from mailcert.inventory import load_inventory
from mailcert.ports import STANDARD_PORTS
from mailcert.services.registry import ROLES, SERVICES, service_of_path


def test_every_service_has_exactly_one_planner_and_every_planner_a_service() -> None:
    assert list(PLANNERS) == list(SERVICES)


def test_every_service_has_a_packaged_role_file() -> None:
    (packaged,) = default_paths()[:1]
    assert [name for name, s in SERVICES.items() if not (packaged / s.role_file).is_file()] == []
    assert set(load_roles([packaged]).roles) == set(SERVICES)


def test_mailcert_roles_names_are_the_registry_s_and_a_wrong_one_is_named_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The inventory keeps no list of services of its own: a service the registry adds is a valid
    mailcert_roles name at once; an unknown one stops the run before any host, naming file and line."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  hosts:\n    mx1:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n"
        f"      mailcert_known_hosts: {tmp_path / 'missing_known_hosts'}\n"
        f"      mailcert_roles: [{', '.join(ROLES)}]\n"
        "    mx2:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n"
        "      mailcert_roles: [postfix, sendmail]\n"
    )
    hosts = load_inventory(str(inventory))
    assert checked_roles(hosts.host("mx1")) == tuple(ROLES)
    with pytest.raises(InventoryError) as refused:
        checked_roles(hosts.host("mx2"))
    assert "sendmail" in refused.value.line() and f"{inventory}:11" in refused.value.line()

    with pytest.raises(SystemExit) as exited:
        build_program().run(["mailcert", "audit", "-I", str(inventory), "--no-probe"])
    out, err = capsys.readouterr()
    assert int(exited.value.code or 0) == 3 and out == ""
    assert err.count("\n") == 1 and "mailcert_roles has unknown role(s) sendmail" in err
    assert f"{inventory}:11" in err


def test_descriptors_name_their_ports_from_the_one_port_table() -> None:
    assert sorted(SERVICES["postfix"].ports) == [25, 465, 587]
    assert sorted(SERVICES["dovecot"].ports) == [110, 143, 993, 995]
    served = {port for s in SERVICES.values() for port in s.ports}
    assert served == set(STANDARD_PORTS)


def test_a_written_file_is_validated_by_the_service_owning_its_folder() -> None:
    assert service_of_path("/etc/postfix/main.cf") == "postfix"
    assert service_of_path("/etc/dovecot/conf.d/10-ssl.conf") == "dovecot"
    assert service_of_path("/etc/exim4/exim4.conf.template") == "exim"
    assert service_of_path("/etc/exim.conf") == "exim"
    assert service_of_path("/etc/ssl/private/mail.key") is None
    write = Change(ChangeKind.EDIT, "e", file=FileChange("/etc/dovecot/dovecot.conf", "a\n", "b\n"))
    reload = Change(ChangeKind.RELOAD, "r", service="postfix")
    assert touched_services(HostPlan("mx", (write, reload))) == ("dovecot", "postfix")
