"""Hypothesis strategies for job arguments, derived from ``perform``'s annotations.

Every strategy here produces JSON-native values only, since that is all a job can receive.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

import jobkit

from .errors import UsageError

__all__ = ["args_for", "json_values", "strategy_for"]

#: Integers JavaScript and Ruby's JSON parsers keep exact, as Sidekiq's Web UI shows them.
MAX_SAFE_INT = 2**53


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value: null, booleans, numbers, strings, and small lists and objects of them."""
    scalars = st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.text(
        max_size=20
    ) | st.floats(allow_nan=False, allow_infinity=False)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=10,
    )


def strategy_for(hint: Any, where: str = "argument") -> st.SearchStrategy[Any]:
    """A strategy for one JSON-native annotation (``int``, ``str``, ``list[int]``, …)."""
    if hint is Any or hint is inspect.Parameter.empty:
        return json_values()
    origin = typing.get_origin(hint)
    params = typing.get_args(hint)
    if hint is type(None) or hint is None:
        return st.none()
    simple: dict[Any, Callable[[], st.SearchStrategy[Any]]] = {
        bool: st.booleans,
        int: lambda: st.integers(-MAX_SAFE_INT, MAX_SAFE_INT),
        float: lambda: st.floats(allow_nan=False, allow_infinity=False),
        str: lambda: st.text(max_size=50),
    }
    if hint in simple:
        return simple[hint]()
    if origin is typing.Union or origin is types.UnionType:
        return st.one_of(*(strategy_for(p, where) for p in params))
    if origin is typing.Literal:
        return st.sampled_from(params)
    if origin is list or hint is list:
        return st.lists(strategy_for(params[0] if params else Any, where), max_size=5)
    if origin is dict or hint is dict:
        key, value = params if params else (str, Any)
        if key is not str:
            raise UsageError(f"{where}: {hint!r} has non-str keys, which JSON cannot carry")
        return st.dictionaries(st.text(max_size=10), strategy_for(value, where), max_size=5)
    raise UsageError(
        f"{where}: annotation {hint!r} is not JSON-native, so jobs cannot receive it; "
        "annotate perform with JSON types, or pass args=<strategy> explicitly"
    )


def args_for(job: Any) -> st.SearchStrategy[tuple[Any, ...]]:
    """A strategy of argument tuples for ``job``'s ``perform`` (required parameters only)."""
    cls = jobkit.resolve(job)
    skip_self = not isinstance(job, jobkit.JobFunction)
    func: Callable[..., Any] = cls.perform if skip_self else job.func
    try:
        hints = typing.get_type_hints(func)
    except (NameError, TypeError) as e:
        raise UsageError(f"{cls.name}: cannot read perform's annotations: {e}") from e
    parts: list[st.SearchStrategy[Any]] = []
    params = list(inspect.signature(func).parameters.values())
    for param in params[1:] if skip_self else params:
        if param.kind not in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            continue
        if param.default is not param.empty:
            continue
        hint = hints.get(param.name, Any)
        parts.append(strategy_for(hint, f"{cls.name}.perform({param.name})"))
    return st.tuples(*parts)
