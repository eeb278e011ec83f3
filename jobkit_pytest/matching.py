"""Matching expected job arguments against the JSON the job really received.

Pure: no Redis, no jobkit import. ``ANY`` and :func:`partial` may appear anywhere inside the
expected arguments; everything else is compared after a JSON round trip, as the job sees it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


class Matcher:
    """Base of argument matchers: override :meth:`matches` and ``__repr__``."""

    def matches(self, actual: Any) -> bool:
        raise NotImplementedError


class _Any(Matcher):
    def matches(self, actual: Any) -> bool:
        return True

    def __repr__(self) -> str:
        return "ANY"


#: Matches any single argument value.
ANY: Matcher = _Any()


class Partial(Matcher):
    """Matches a dict that has at least these keys with matching values (recursively)."""

    def __init__(self, expected: Mapping[str, Any]) -> None:
        if not isinstance(expected, Mapping):
            from .errors import UsageError

            raise UsageError(f"partial({expected!r}) needs a dict of the keys that must match")
        self.expected = dict(expected)

    def matches(self, actual: Any) -> bool:
        if not isinstance(actual, dict):
            return False
        return all(k in actual and matches(v, actual[k]) for k, v in self.expected.items())

    def __repr__(self) -> str:
        return f"partial({self.expected!r})"


def partial(expected: Mapping[str, Any]) -> Matcher:
    """Match a dict argument on some of its keys: ``partial({"email": "a@b.c"})``."""
    return Partial(expected)


def normalize(value: Any, where: str = "args") -> Any:
    """``value`` as the job would receive it after JSON (tuples become lists, and so on).

    Matchers are kept; a value JSON cannot carry raises a :class:`UsageError` naming it, since
    no enqueued job could ever match it.
    """
    from .errors import UsageError

    if isinstance(value, Matcher) or value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(f"{where}={value!r} has no JSON form, so no job can carry it")
        return value
    if isinstance(value, list | tuple):
        return [normalize(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise UsageError(f"{where} has key {k!r}; JSON object keys are strings")
            out[k] = normalize(v, f"{where}[{k!r}]")
        return out
    raise UsageError(
        f"{where}={value!r} is not JSON-native ({type(value).__name__}); jobs receive JSON, "
        "so compare with what the job gets (an id, an ISO string, a list)"
    )


def matches(expected: Any, actual: Any) -> bool:
    """Whether normalized ``expected`` matches the decoded ``actual``."""
    if isinstance(expected, Matcher):
        return expected.matches(actual)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(matches(v, actual[k]) for k, v in expected.items())
        )
    # True == 1 in Python but not in JSON: compare the types of scalars too.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def show(value: Any) -> str:
    """JSON-like rendering of (expected or actual) arguments for messages; matchers by name."""
    if isinstance(value, Matcher):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {show(v)}" for k, v in value.items()) + "}"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
