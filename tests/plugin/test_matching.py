"""Argument matching: pure, no Redis."""

from __future__ import annotations

import datetime as dt

import pytest

from jobkit_pytest import ANY, UsageError, partial
from jobkit_pytest.matching import matches, normalize, show


def test_tuples_normalize_to_lists_and_match_them() -> None:
    assert matches(normalize((1, ("a", 2.5))), [1, ["a", 2.5]])


def test_booleans_do_not_match_integers() -> None:
    assert not matches(normalize([True]), [1])
    assert not matches(normalize([1]), [True])


def test_any_matches_anything_including_null() -> None:
    assert matches(normalize([ANY, ANY]), [None, {"x": [1]}])


def test_partial_matches_a_subset_of_keys_recursively() -> None:
    expected = normalize([partial({"a": 1, "b": partial({"c": ANY})})])
    assert matches(expected, [{"a": 1, "b": {"c": 3, "d": 4}, "e": 5}])
    assert not matches(expected, [{"a": 1, "b": {"d": 4}}])
    assert not matches(expected, ["not a dict"])


def test_dicts_without_partial_must_match_exactly() -> None:
    assert not matches(normalize([{"a": 1}]), [{"a": 1, "b": 2}])


def test_values_json_cannot_carry_are_rejected_by_position() -> None:
    with pytest.raises(UsageError, match=r"args\[0\]\['when'\]=datetime.date"):
        normalize([{"when": dt.date(2020, 1, 1)}])
    with pytest.raises(UsageError, match="no JSON form"):
        normalize([float("nan")])


def test_partial_needs_a_dict() -> None:
    with pytest.raises(UsageError, match=r"partial\(\[1\]\) needs a dict"):
        partial([1])  # type: ignore[arg-type]


def test_show_renders_json_with_matchers_by_name() -> None:
    assert show([1, "a", None, ANY, partial({"x": True})]) == (
        '[1, "a", null, ANY, partial({\'x\': True})]'
    )
