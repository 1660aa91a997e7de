"""`tokentrail.contract.coerce`: one meaning per coercion, total on any input."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tokentrail.contract import coerce

ODD: list[Any] = [None, object(), b"12", [1], {"a": 1}, math.nan, "x" * 100, "", "  ", True, False, 1e400]


def test_text_is_a_non_empty_string() -> None:
    assert coerce.text("claude") == "claude"
    assert coerce.text("") is None
    assert coerce.text(5) is None


def test_integer_is_exact() -> None:
    assert coerce.integer(5) == 5
    assert coerce.integer(5.0) == 5
    assert coerce.integer(" -12 ") == -12
    assert coerce.integer(5.5) is None
    assert coerce.integer("5.5") is None
    assert coerce.integer(True) is None
    assert coerce.integer("9" * 25) is None


def test_number_and_real() -> None:
    assert coerce.number("12") == 12
    assert coerce.number(" 2.5 ") == 2.5
    assert coerce.number(7.5) == 7.5
    assert coerce.number(True) is None
    assert coerce.real("0.25") == 0.25
    assert coerce.real(3) == 3.0
    assert coerce.real("nan") is None
    assert coerce.real(math.inf) is None
    assert coerce.real(10**400) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("true", True),
        (" TRUE ", True),
        ("1", True),
        (False, False),
        ("False", False),
        ("0", False),
        (1, None),
        ("yes", None),
    ],
)
def test_flag(value: Any, expected: bool | None) -> None:
    assert coerce.flag(value) is expected


def test_json_value_and_strings() -> None:
    assert coerce.json_value('{"a": [1]}') == {"a": [1]}
    assert coerce.json_value(' "s"') == "s"
    assert coerce.json_value("12") is None
    assert coerce.json_value("[broken") is None
    assert coerce.json_value((1, 2)) == (1, 2)
    assert coerce.strings('["a", 1, "b"]') == ["a", "b"]
    assert coerce.strings("stop") == ["stop"]
    assert coerce.strings(("x",)) == ["x"]
    assert coerce.strings("") is None
    assert coerce.strings([1, 2]) is None


@pytest.mark.parametrize("value", ODD, ids=repr)
def test_every_coercion_is_total(value: Any) -> None:
    for convert in (
        coerce.text,
        coerce.integer,
        coerce.number,
        coerce.real,
        coerce.flag,
        coerce.json_value,
        coerce.strings,
    ):
        convert(value)
