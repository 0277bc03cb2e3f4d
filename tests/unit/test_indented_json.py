"""report/indented_json.py writes exactly what json.dumps(indent=2, ensure_ascii=False) writes."""

from __future__ import annotations

import enum
import json

from hypothesis import given
from hypothesis import strategies as st

from mailcert.report.indented_json import indented_json


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def _dumps(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children) | st.tuples(children, children) | st.dictionaries(st.text(), children)
    ),
    max_leaves=40,
)


@given(VALUES)
def test_any_json_value_is_written_as_json_dumps_writes_it(value: object) -> None:
    assert indented_json(value) == _dumps(value)


def test_edge_values() -> None:
    for value in (
        {},
        [],
        {"a": {}, "b": [], "c": [{}], "d": [[]]},
        [float("nan"), float("inf"), -float("inf"), -0.0, 1e300, 0.1],
        {"\x00\x1f\x7f\u009b\u2028\ud800": 'é " \\ \n'},
        {"colour": Colour.RED, "level": Level.HIGH, True: 1},
        {1: "int key", None: "none key", 2.5: "float key"},
        (1, (2, 3)),
    ):
        assert indented_json(value) == _dumps(value), value


def test_what_json_cannot_encode_fails_as_in_json() -> None:
    for value in ({"a": object()}, {(1, 2): "tuple key"}):
        try:
            _dumps(value)
        except TypeError as expected:
            try:
                indented_json(value)
            except TypeError as got:
                assert str(got) == str(expected)
            else:
                raise AssertionError("no TypeError")
