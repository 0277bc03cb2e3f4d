"""`fix --install-certbot`: a host whose plan needs certbot and lacks it gets an install step with its own
package manager (apt-get, dnf, yum), before the certbot step; without the option, or with no known package
manager, the certificate findings stay unfixable with the reason. The package manager's failure is one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mailcert.fix.acme.host import install_argv, install_reason
from mailcert.fix.model import ChangeKind, Command, HostPlan
from mailcert.fix.plan.install import package_manager, system_name
from mailcert.fix.plan.planner import plan_from
from mailcert.gather import gather_argv
from mailcert.gather.host import GatheredHost
from mailcert.hostfs import LocalRoot
from mailcert.services.certbot.schedule import find_certbot
from tests.fix_trees import inventory_host, lint, without_letsencrypt
from tests.lint_trees import NAMES, HostTree
from tests.unit import test_lint_scenarios as scenarios

PKI = scenarios.PKI


@pytest.fixture
def no_certbot(tmp_path: Path) -> HostTree:
    """A host before certbot (self-signed certificate in /etc/ssl) whose /usr/bin has no certbot."""
    tree = HostTree(tmp_path, PKI)
    without_letsencrypt(tree, PKI)
    tree.path("/usr/bin/certbot").unlink()
    return tree


def plan(tree: HostTree, *, install: bool) -> HostPlan:
    host = inventory_host()
    report, model = lint(tree, PKI, list(NAMES))
    return plan_from(LocalRoot(tree.root), model, report, host, now=scenarios.NOW, install_certbot=install)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("program", "argv", "env"),
    [
        ("/usr/bin/apt-get", ("apt-get", "install", "-y", "-q", "certbot"), (("DEBIAN_FRONTEND", "noninteractive"),)),
        ("/usr/bin/dnf", ("dnf", "install", "-y", "-q", "certbot"), ()),
        ("/usr/bin/yum", ("yum", "install", "-y", "-q", "certbot"), ()),
    ],
)  # fmt: skip
def test_the_install_step_uses_the_hosts_package_manager_and_runs_before_certbot(
    no_certbot: HostTree, program: str, argv: tuple[str, ...], env: tuple[tuple[str, str], ...]
) -> None:
    no_certbot.write(program, "#!/bin/sh\n", mode=0o755)

    result = plan(no_certbot, install=True)

    assert result.error is None, result.error
    kinds = [c.kind for c in result.changes]
    assert kinds[:2] == [ChangeKind.INSTALL, ChangeKind.ISSUE]
    install = result.changes[0]
    assert install.command == Command(argv, env)
    assert install.description.startswith(f"install certbot with {argv[0]}")
    assert result.changes[1].command is not None and result.changes[1].command.argv[:2] == (
        "certbot",
        "certonly",
    )
    assert ChangeKind.EDIT in kinds  # the services are still pointed at the new lineage


def test_dnf_is_chosen_over_yum_when_both_are_there(no_certbot: HostTree) -> None:
    no_certbot.write("/usr/bin/yum", "#!/bin/sh\n", mode=0o755)
    no_certbot.write("/usr/bin/dnf", "#!/bin/sh\n", mode=0o755)
    assert plan(no_certbot, install=True).changes[0].command == Command(
        ("dnf", "install", "-y", "-q", "certbot")
    )


def test_an_unknown_package_manager_leaves_the_findings_unfixable_with_the_reason(
    no_certbot: HostTree,
) -> None:
    no_certbot.write("/etc/os-release", 'NAME="Alpine Linux"\nID=alpine\nPRETTY_NAME="Alpine Linux v3.19"\n')

    result = plan(no_certbot, install=True)

    assert result.error is None
    assert not any(c.kind in (ChangeKind.INSTALL, ChangeKind.ISSUE) for c in result.changes)
    assert not any(
        c.kind is ChangeKind.EDIT for c in result.changes
    )  # nothing points at a lineage never made
    reasons = [r for r in result.unfixable if "certbot is not installed" in r]
    assert reasons and all(
        r.endswith(
            "certbot is not installed and --install-certbot cannot install it: no apt-get, dnf or yum on the host "
            "(Alpine Linux v3.19); install certbot by hand, then run fix again"
        )
        for r in reasons
    )
    assert any(r.startswith("cert.self-signed") for r in reasons)


def test_without_the_option_the_plan_says_how_to_install_certbot(no_certbot: HostTree) -> None:
    no_certbot.write("/usr/bin/apt-get", "#!/bin/sh\n", mode=0o755)

    result = plan(no_certbot, install=False)

    assert not any(c.kind in (ChangeKind.INSTALL, ChangeKind.ISSUE) for c in result.changes)
    reasons = [r for r in result.unfixable if "certbot is not installed" in r]
    assert reasons
    assert reasons[0].endswith(
        "certbot is not installed on the host (renewal.not-configured): install it with "
        "`DEBIAN_FRONTEND=noninteractive apt-get install -y -q certbot`, or run fix with --install-certbot"
    )


def test_a_host_with_certbot_gets_no_install_step(tmp_path: Path) -> None:
    tree = HostTree(tmp_path, PKI)
    without_letsencrypt(tree, PKI)  # /usr/bin/certbot is there
    tree.write("/usr/bin/apt-get", "#!/bin/sh\n", mode=0o755)
    result = plan(tree, install=True)
    assert [c.kind for c in result.changes][:1] == [ChangeKind.ISSUE]


def test_install_argv_puts_the_environment_first_through_env() -> None:
    command = Command(("apt-get", "install", "-y", "-q", "certbot"), (("DEBIAN_FRONTEND", "noninteractive"),))
    assert install_argv(command) == [
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-q",
        "certbot",
    ]
    assert install_argv(Command(("dnf", "install", "-y", "certbot"))) == ["dnf", "install", "-y", "certbot"]
    with pytest.raises(ValueError):
        install_argv(Command(("apt-get",), (("BAD NAME", "x"),)))


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (
            "Reading package lists...\nBuilding dependency tree...\nE: Unable to locate package certbot\n",
            "E: Unable to locate package certbot (the package lists may be missing or old: run `apt-get update` on the host)",
        ),
        (
            "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 812 (apt-get)\n"
            "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?\n",
            "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 812 (apt-get)",
        ),
        (
            "Last metadata expiration check: 0:01:02 ago.\nNo match for argument: certbot\nError: Unable to find a match: certbot\n",
            "Error: Unable to find a match: certbot (on RHEL-likes certbot comes from EPEL: install epel-release first)",
        ),
        ("", "no output"),
    ],
)  # fmt: skip
def test_the_package_managers_reason_is_one_line(output: str, reason: str) -> None:
    assert install_reason(output) == reason


@pytest.mark.parametrize(
    ("programs", "expected"),
    [(["dnf", "yum"], "dnf"), (["apt-get"], "apt-get"), (["yum"], "yum"), ([], None)],
)
def test_the_gather_program_sends_the_package_manager_and_os_release_in_its_one_document(
    tmp_path: Path, programs: list[str], expected: str | None
) -> None:
    root = tmp_path / "host"
    (root / "etc/postfix").mkdir(parents=True)
    (root / "etc/postfix/main.cf").write_text("myhostname = mx.example.test\n")
    (root / "etc/os-release").write_text('ID=rocky\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n')
    (root / "usr/bin").mkdir(parents=True)
    for program in programs:
        (root / "usr/bin" / program).write_text("#!/bin/sh\n")
        (root / "usr/bin" / program).chmod(0o755)

    out = subprocess.run(gather_argv(str(root)), capture_output=True, text=True, check=True).stdout
    gathered = GatheredHost.from_output(out)

    manager = package_manager(gathered)
    assert (manager.name if manager else None) == expected
    assert system_name(gathered) == "Rocky Linux 9.4 (Blue Onyx)"
    assert find_certbot(gathered)[0] is False  # /usr/bin seen, no certbot in it
