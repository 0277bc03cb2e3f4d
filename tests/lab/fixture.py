"""The lab as pytest fixtures, for the lab tests and for other integration tests.

Use from any conftest.py:  `from tests.lab.fixture import lab, lab_manager, lab_session  # noqa: F401`

- `lab_session` (module): the running lab — 3 healthy postfix-dovecot hosts (mx1, mx2, mx3).
- `lab` (function): the same lab; every host a test planted a fault on (`lab.plant`) or marked as
  changed (`lab.changed`, after `fix` or certbot) is reset to healthy after it: configs, certificate
  lineage and deploy hook rewritten, daemons reloaded.
- `release_lab` (function): like `lab`, once on each Debian release (RELEASES): the shared lab for Debian 12,
  a one-host debian13 lab of the module's own for Debian 13. A module runs its `lab` tests on both with
  `def lab(release_lab: Lab) -> Lab: return release_lab` as its own `lab` fixture.

One lab per machine (it owns a fixed address range): the whole test run shares one, brought up on
first use and removed at the end of the session.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509

from mailcert.lab import lifecycle
from mailcert.lab.kinds import DEFAULT_KIND
from mailcert.lab.layout import LabHost
from mailcert.lab.state import LabState, pointer_dir

LAB_HOSTS = 3
# The Debian releases a `release_lab` test runs on, by test id: Debian 12 is the shared lab (the machine's own
# Postfix 3.7 and Dovecot 2.3), Debian 13 a one-host lab of its own (Postfix 3.10, Dovecot 2.4, certbot 4.0).
RELEASES = {"debian12": DEFAULT_KIND, "debian13": "debian13"}


@dataclass
class Lab:
    """A running lab, as a test sees it."""

    dir: Path
    hosts: tuple[LabHost, ...]
    planted: set[str] = field(default_factory=set)

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    @property
    def ca_bundle(self) -> Path:
        return self.dir / "ca-bundle.pem"

    @property
    def ssh_key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hosts)

    @property
    def addresses(self) -> dict[str, str]:
        return {h.name: h.address for h in self.hosts}

    def host(self, name: str) -> LabHost:
        return next(h for h in self.hosts if h.name == name)

    def root(self, name: str) -> Path:
        """The host's files (what `mailcert lint ROOT` reads): DIR/hosts/NAME/root."""
        return self.host(name).root

    def plant(self, name: str, fault: str) -> None:
        """Plant a fault on a running host (reset again after the test when used through `lab`)."""
        self.planted.add(name)
        lifecycle.plant_fault(self.dir, name, fault)

    def changed(self, name: str) -> None:
        """Mark a host the test changed by other means (mailcert fix, certbot): reset after the test."""
        self.planted.add(name)

    def reset(self, name: str) -> None:
        lifecycle.reset_host(self.dir, name)
        self.planted.discard(name)

    def exec(self, name: str, *command: str) -> subprocess.CompletedProcess[str]:
        """Run a command as root inside the host (never raises on a non-zero exit)."""
        state = lifecycle.require_state(self.dir)
        return lifecycle.shell_for(state, name).try_run(list(command))

    def disk_leaf(self, name: str) -> x509.Certificate:
        """The certificate certbot's live/ points at on the host's disk."""
        host = self.host(name)
        return x509.load_pem_x509_certificate(
            host.path(f"/etc/letsencrypt/live/{host.lineage}/cert.pem").read_bytes()
        )


class LabManager:
    """Brings the one shared lab up on demand and down at the end (or for a test that needs it down)."""

    def __init__(self, lab_dir: Path) -> None:
        self.dir = lab_dir
        self.lab: Lab | None = None

    def ensure_up(self) -> Lab:
        if self.lab is None:
            claim_machine_lab()
            result = lifecycle.up(self.dir, LAB_HOSTS, "none", say=lambda _: None)
            self.lab = Lab(result.lab_dir, result.hosts)
        return self.lab

    def take_down(self) -> None:
        if self.lab is not None or LabState.load(self.dir) is not None:
            lifecycle.down(self.dir, say=lambda _: None)
        self.lab = None


# One test run at a time uses the machine's one lab: the run holds this lock from its first use of
# the lab until it exits (the kernel releases it even when the run is killed).
LOCK = Path("/run/mailcert-lab-tests.lock")
WAIT_FOR_OTHER_RUN = 900
_LOCK_FD: list[int] = []
DEMO_LAB = Path(__file__).resolve().parents[2] / "lab"  # where `make demo` (python -m mailcert.demo) puts it


def claim_machine_lab() -> None:
    """Wait for other test runs to finish with the lab; then remove a lab a killed run left behind."""
    if _LOCK_FD:
        return
    fd = os.open(LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    deadline = time.monotonic() + WAIT_FOR_OTHER_RUN
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                pytest.fail(f"another test run has held the lab for {WAIT_FOR_OTHER_RUN} s ({LOCK})")
            time.sleep(1)
    _LOCK_FD.append(fd)
    leftover = pointer_dir()
    if leftover is None or LabState.load(leftover) is None:
        return
    if "pytest-of-" in str(leftover):
        lifecycle.down(leftover, say=lambda _: None)  # its run is gone: we hold the lock
    elif leftover == DEMO_LAB:
        # `make demo` leaves its lab up to play with; `make test` after it needs the range.
        warnings.warn(f"took down the demo lab under {DEMO_LAB} (`make demo` brings it back)", stacklevel=1)
        lifecycle.down(leftover, say=lambda _: None)


def own_lab(manager: LabManager, lab_dir: Path) -> Path:
    """Claim the machine's one lab for a test's own lab at lab_dir (the shared lab goes down meanwhile
    and comes back on its next use)."""
    require_root()
    claim_machine_lab()
    manager.take_down()
    return lab_dir


def require_kind(kind: str) -> None:
    """Fail (never skip) when a kind's system is missing: as root `make test` has installed it, so missing
    means broken."""
    from mailcert.lab.kinds import CPANEL, DEBIAN13, EXIM_DOVECOT
    from mailcert.lab.kinds.exim import installed as exim_installed
    from mailcert.lab.systemroot import debian13_installed, debian13_root

    if kind in (EXIM_DOVECOT.name, CPANEL.name) and not exim_installed():
        pytest.fail("no Exim under /opt/mailcert/exim although running as root: run scripts/install-exim")
    if kind == DEBIAN13.name and not debian13_installed():
        pytest.fail(
            f"no Debian 13 root in {debian13_root()} although running as root: run scripts/install-debian13"
        )


@contextmanager
def kind_lab(
    manager: LabManager, tmp_path_factory: pytest.TempPathFactory, kind: str, hosts: int = 1
) -> Iterator[Lab]:
    """A lab of its own with `hosts` healthy hosts of `kind` (exim-dovecot and cpanel need the real Exim that
    `make deps` installs under /opt/mailcert/exim, debian13 the Debian 13 root), taken down afterwards."""
    require_root()
    require_kind(kind)
    lab_dir = own_lab(manager, tmp_path_factory.mktemp(f"{kind}-lab") / "lab")
    up = lifecycle.up(lab_dir, hosts, "none", [kind], say=lambda _: None)
    try:
        yield Lab(up.lab_dir, up.hosts)
    finally:
        lifecycle.down(lab_dir, say=lambda _: None)


def one_host_lab(manager: LabManager, tmp_path_factory: pytest.TempPathFactory, kind: str) -> Iterator[Path]:
    """A module's own one-host lab of `kind` (kind_lab), as its folder. Use as `yield from one_host_lab(...)`."""
    with kind_lab(manager, tmp_path_factory, kind) as lab:
        yield lab.dir


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (network namespaces, bind mounts); CI runs them as root")


_MANAGER: list[LabManager] = []  # one per test run, even when several conftests import these fixtures


@pytest.fixture(scope="session")
def lab_manager(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LabManager:
    require_root()
    if not _MANAGER:
        manager = LabManager(tmp_path_factory.mktemp("mailcert-lab"))
        _MANAGER.append(manager)
        request.config.add_cleanup(manager.take_down)
    return _MANAGER[0]


@pytest.fixture(scope="module")
def lab_session(lab_manager: LabManager) -> Lab:
    # per module, not per session: a module with a lab of its own (own_lab) takes the shared lab down, and
    # the next module must get it back up, not a cached handle to a lab that is gone
    return lab_manager.ensure_up()


@pytest.fixture
def lab(lab_manager: LabManager) -> Iterator[Lab]:
    """The shared lab; hosts planted on during the test are put back to healthy afterwards."""
    shared = lab_manager.ensure_up()
    yield shared
    for name in sorted(shared.planted):
        shared.reset(name)


@pytest.fixture(scope="module", params=list(RELEASES))
def release_lab_session(
    request: pytest.FixtureRequest, lab_manager: LabManager, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    """Once per module and release: the shared lab (debian12), then a one-host debian13 lab of the module's
    own (pytest runs every test of one release before the next, so each lab comes up once per module)."""
    kind = RELEASES[request.param]
    if kind == DEFAULT_KIND:
        yield lab_manager.ensure_up()
        return
    with kind_lab(lab_manager, tmp_path_factory, kind) as lab:
        yield lab


@pytest.fixture
def release_lab(release_lab_session: Lab) -> Iterator[Lab]:
    """`lab` on each Debian release in turn (mx1 is the release's host); planted hosts reset afterwards."""
    yield release_lab_session
    for name in sorted(release_lab_session.planted):
        release_lab_session.reset(name)
