"""Hypothesis budgets for the fuzz suite: `short` (default, `make test`: the whole of tests/fuzz well under
a minute) and `long` (`make fuzz`, HYPOTHESIS_PROFILE=long: many more examples per parser).

Example counts are set here, not per test, so one switch changes the whole suite. No hypothesis deadline:
a slow shared CI machine must not fail a test for being slow; hangs are caught by `no_hang` instead, a real
alarm around every example (tests/fuzz/strategies.py).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("short", max_examples=40, derandomize=True, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("long", max_examples=2000, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))
