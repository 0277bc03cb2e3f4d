"""Lab fixtures for tests/lab (other test folders import them the same way)."""

from tests.lab.central import central_acme, release_central_acme  # noqa: F401
from tests.lab.fixture import lab, lab_manager, lab_session, release_lab, release_lab_session  # noqa: F401
