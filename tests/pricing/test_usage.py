"""`tokentrail.pricing.usage`: the hot path's constructors (the twin-class ones, and the descriptor ones an
interpreter that refuses the twins gets) make the same frozen records as the dataclasses."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrail.pricing import Cost, Usage
from tokentrail.pricing import usage as usage_module
from tokentrail.pricing.usage import new_cost, new_usage

CONSTRUCTORS = {
    "twins": (usage_module._twin_usage, usage_module._twin_cost),
    "setters": (usage_module._set_usage, usage_module._set_cost),
}

counts = st.integers(min_value=0, max_value=10**9)


@settings(max_examples=100, deadline=None, database=None)
@given(st.tuples(counts, counts, counts, counts, counts, counts, st.booleans()))
@pytest.mark.parametrize("way", CONSTRUCTORS)
def test_new_usage_is_usage(way: str, values: tuple[int, int, int, int, int, int, bool]) -> None:
    made, expected = CONSTRUCTORS[way][0](values), Usage(*values)
    assert type(made) is Usage
    assert made == expected
    assert hash(made) == hash(expected)
    assert repr(made) == repr(expected)
    assert dataclasses.astuple(made) == values
    assert made.total_input_tokens == expected.total_input_tokens


@pytest.mark.parametrize("way", CONSTRUCTORS)
def test_new_cost_is_cost(way: str) -> None:
    made = CONSTRUCTORS[way][1](0.25, "genai-prices 1")
    assert type(made) is Cost
    assert made == Cost(0.25, "genai-prices 1")
    assert hash(made) == hash(Cost(usd=0.25, source="genai-prices 1"))


def test_the_records_stay_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        new_usage((1, 2, 3, 4, 5, 6, False)).input_tokens = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        new_cost(1.0, "x").usd = 0.0  # type: ignore[misc]


def test_this_interpreter_takes_the_twins() -> None:
    assert (new_usage, new_cost) == CONSTRUCTORS["twins"]
    for record, twin in ((Usage, usage_module._UsageFields), (Cost, usage_module._CostFields)):
        assert sorted(twin.__slots__) == sorted(field.name for field in dataclasses.fields(record))
