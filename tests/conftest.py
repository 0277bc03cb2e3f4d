"""Test order: modules with a lab of their own (marker `own_lab`) run after every other test. Each of them
takes the machine's one lab from the shared lab, which the next shared-lab module then brings up again; run
in between, they cost a shared-lab start and stop each (about half a minute)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(
        key=lambda item: item.get_closest_marker("own_lab") is not None
    )  # stable: order kept otherwise
