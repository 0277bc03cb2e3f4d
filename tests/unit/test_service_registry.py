"""One descriptor per service (issue 20): every service of services/registry has its role file and exactly
one planner in fix/plan/services.py, and every list of services elsewhere is the registry's."""

from __future__ import annotations

from mailcert.fix.apply.payload import touched_services
from mailcert.fix.model import Change, ChangeKind, FileChange, HostPlan
from mailcert.fix.plan.services import PLANNERS
from mailcert.fix.roles import default_paths, load_roles
from mailcert.inventory.model import SERVICE_ROLES
from mailcert.ports import STANDARD_PORTS
from mailcert.services.registry import ROLES, SERVICES, service_of_path


def test_every_service_has_exactly_one_planner_and_every_planner_a_service() -> None:
    assert list(PLANNERS) == list(SERVICES)


def test_every_service_has_a_packaged_role_file() -> None:
    (packaged,) = default_paths()[:1]
    assert [name for name, s in SERVICES.items() if not (packaged / s.role_file).is_file()] == []
    assert set(load_roles([packaged]).roles) == set(SERVICES)


def test_the_inventory_knows_the_same_roles() -> None:
    """inventory/ sits below services/ and keeps its own tuple: it must name the same services."""
    assert tuple(SERVICE_ROLES) == tuple(ROLES)


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
