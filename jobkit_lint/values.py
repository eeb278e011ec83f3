"""What a job-argument expression evaluates to: a model object, or something not JSON-native."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import libcst as cst

from jobkit_lint.facts import FileFacts, Scope
from jobkit_lint.names import dotted_name

__all__ = ["describe_unserializable", "forwarded_keywords", "is_model_value",
           "iter_arg_values", "passed_arguments"]

_QUERY_METHODS = frozenset({
    "get", "filter", "exclude", "all", "first", "last", "order_by", "select_related",
    "prefetch_related", "only", "defer", "distinct", "one", "one_or_none", "scalar_one",
    "scalars", "limit", "offset", "filter_by", "where", "join", "options", "earliest", "latest",
    "annotate", "using", "get_or_404", "first_or_404", "one_or_404", "get_or_none",
})
_ACTIVE_RECORD = _QUERY_METHODS | {"find", "find_by", "create", "get_by_id", "select"}
_NOT_FOUND_HELPERS = frozenset({"get_object_or_404", "get_list_or_404"})
_NON_JSON_PREFIXES = (
    "datetime.", "decimal.", "uuid.", "fractions.", "pathlib.", "ipaddress.", "arrow.",
    "pendulum.", "django.utils.timezone.now",
)
# kombu's JSON encoder (Celery's default) round-trips these (kombu ≥ 5.3; older ones send
# the ISO string or str()).
_KOMBU_TYPES = ("datetime.", "decimal.", "uuid.", "django.utils.timezone.now")
_NON_JSON_BUILTINS = frozenset({"set", "frozenset", "bytes", "bytearray", "object", "range"})
_JSON_CONTAINERS = frozenset({"dict", "list", "tuple"})
_MAX_DEPTH = 4
# A model reaches a job through a few more steps than a value is described through: a loop
# over a parameter, the call that passed it, the name bound there and what it was read from.
_MODEL_DEPTH = 6
# What iter_arg_values() looks inside; an exact-type screen first, as a failing isinstance()
# against libcst classes is slow.
_CONTAINERS = frozenset({cst.List, cst.Tuple, cst.Set, cst.Dict, cst.Call, cst.Name})


def iter_arg_values(
    expr: cst.BaseExpression,
    *,
    through_conversions: bool = True,
    scope: Scope | None = None,
    before: int | None = None,
) -> Iterator[cst.BaseExpression]:
    """`expr` and every value nested in literal lists, tuples, sets, dicts and dict()/list().

    With `through_conversions=False`, `list(ids)`/`tuple(ids)`/`sorted(ids)` are values in
    their own right (the conversion is the fix for a set), not containers of `ids`. With a
    `scope`, a name bound to a dict literal (`enqueue(f, **params)`) yields the dict's values.
    """
    yield expr
    kind = type(expr)
    if kind not in _CONTAINERS:
        return
    if isinstance(expr, cst.List | cst.Tuple | cst.Set):
        for element in expr.elements:
            yield from iter_arg_values(element.value, through_conversions=through_conversions,
                                       scope=scope, before=before)
    elif type(expr) is cst.Dict:
        for item in expr.elements:
            yield from iter_arg_values(item.value, through_conversions=through_conversions,
                                       scope=scope, before=before)
    elif type(expr) is cst.Call and dotted_name(expr.func) in _JSON_CONTAINERS:
        for arg in expr.args:
            if through_conversions or arg.keyword is not None:
                yield from iter_arg_values(arg.value, through_conversions=through_conversions,
                                           scope=scope, before=before)
    elif type(expr) is cst.Name and scope is not None:
        for value, seq in _lookup(scope, expr.value, before):
            if type(value) is cst.Dict or (
                type(value) is cst.Call and dotted_name(value.func) == "dict"
            ):
                for nested in iter_arg_values(value, through_conversions=through_conversions,
                                              scope=scope, before=seq):
                    if nested is not value:
                        yield nested


def _lookup(
    scope: Scope, name: str, before: int | None
) -> list[tuple[cst.BaseExpression, int]]:
    # Only the innermost scope is ordered by `before`; outer scopes ran before this one.
    for current in _scopes(scope):
        if name in current.params or name in current.loops:
            return []
        if name in current.env:
            return current.bindings(name, before if current is scope else None)
    return []


def _scopes(scope: Scope) -> Iterator[Scope]:
    current: Scope | None = scope
    while current is not None:
        yield current
        current = current.parent


def _model_class(facts: FileFacts, expr: cst.BaseExpression) -> bool:
    if type(expr) is cst.SimpleString:
        text = expr.evaluated_value
        return isinstance(text, str) and facts.index.is_model_class(
            facts.resolver.qualify_dotted(text)
        )
    if type(expr) is cst.Subscript:
        return _model_class(facts, expr.value) or any(
            type(e.slice) is cst.Index and _model_class(facts, e.slice.value)
            for e in expr.slice
        )
    if type(expr) is cst.BinaryOperation:
        return _model_class(facts, expr.left) or _model_class(facts, expr.right)
    return facts.index.is_model_class(facts.resolver.qualify(expr))


def is_model_value(
    facts: FileFacts,
    scope: Scope,
    expr: cst.BaseExpression,
    depth: int = 0,
    *,
    before: int | None = None,
) -> bool:
    """True when `expr` evaluates to a model instance, a queryset or a query result.

    `before` is the source-order number of the enqueue: a name then holds its last binding
    before it (`order = json.dumps(...)` after `order = Order.objects.get(...)` is a string).
    """
    if depth > _MODEL_DEPTH:
        return False
    if type(expr) is cst.Name:
        return _name_is_model(facts, scope, expr.value, depth, before)
    if type(expr) is cst.Attribute:
        attr = expr.attr.value
        if attr == "user" and dotted_name(expr.value) == "request":
            return True
        return attr == "objects" or (attr == "query" and _model_class(facts, expr.value))
    if type(expr) is cst.Subscript:
        return is_model_value(facts, scope, expr.value, depth + 1, before=before) or (
            _stored_model(facts, scope, expr, depth)
        )
    if type(expr) is cst.Await:
        return is_model_value(facts, scope, expr.expression, depth + 1, before=before)
    if type(expr) is cst.Call:
        return _call_is_model(facts, scope, expr, depth, before)
    return False


def _name_is_model(
    facts: FileFacts, scope: Scope, name: str, depth: int, before: int | None
) -> bool:
    if name == "self" and scope.class_name is not None:
        return facts.index.is_model_class(scope.class_name)
    for current in _scopes(scope):
        if name in current.params:
            annotation = current.params[name]
            if annotation is not None:
                return _model_class(facts, annotation)
            return any(
                is_model_value(facts, caller, value, depth + 1, before=seq)
                for value, caller, seq in passed_arguments(facts, current, name)
            )
        if name in current.loops:
            return is_model_value(facts, current, current.loops[name], depth + 1)
        if name in current.env:
            ordered = before if current is scope else None
            return any(
                is_model_value(facts, current, v, depth + 1, before=seq if ordered else None)
                for v, seq in current.bindings(name, ordered)
            )
    return False


def _stored_model(facts: FileFacts, scope: Scope, read: cst.Subscript, depth: int) -> bool:
    """`cache[a][b]` where this scope (or an outer one) stored a model as `cache[x][y] = ...`:
    the container holds what was put in at that depth."""
    levels, base = 0, cast(cst.BaseExpression, read)
    while type(base) is cst.Subscript:
        levels, base = levels + 1, base.value
    if type(base) is not cst.Name:
        return False
    for current in _scopes(scope):
        stored = current.stores.get(base.value)
        if stored is not None:
            return any(is_model_value(facts, current, value, depth + 1)
                       for at, value in stored if at == levels)
        if base.value in current.env or base.value in current.params:
            return False
    return False


def _module_function(scope: Scope) -> cst.FunctionDef | None:
    # Only a module-level function is called by its plain name from anywhere in the module.
    parent = scope.parent
    if scope.node is None or scope.class_name is not None or parent is None or (
        parent.parent is not None
    ):
        return None
    return scope.node


def passed_arguments(
    facts: FileFacts, scope: Scope, name: str
) -> Iterator[tuple[cst.BaseExpression, Scope, int]]:
    """What this module's calls pass to parameter `name` of the function `scope` is the body
    of: each value with the caller's scope and binding count. Only by position before any
    `*args`, or by keyword; a module-level function only."""
    function = _module_function(scope)
    if function is None:
        return
    params = function.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    index = positional.index(name) if name in positional else None
    for call, caller, seq in facts.calls.get(function.name.value, []):
        place, where = 0, index
        for arg in call.args:
            if arg.keyword is not None:
                if arg.keyword.value == name:
                    yield arg.value, caller, seq
            elif arg.star == "*":
                where = None  # `f(*items)`: no telling which positions it fills
            elif not arg.star:
                if place == where:
                    yield arg.value, caller, seq
                place += 1


def forwarded_keywords(
    facts: FileFacts, scope: Scope, name: str
) -> Iterator[tuple[cst.BaseExpression, Scope, int]]:
    """When `name` is the `**kwargs` parameter of the module-level function `scope` is the
    body of: the keyword arguments this module's calls pass into it, with the caller's scope
    and binding count."""
    function = _module_function(scope)
    star = function.params.star_kwarg if function is not None else None
    if function is None or type(star) is not cst.Param or star.name.value != name:
        return
    params = function.params
    named = {p.name.value for p in (*params.params, *params.kwonly_params)}
    for call, caller, seq in facts.calls.get(function.name.value, []):
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value not in named:
                yield arg.value, caller, seq


def _call_is_model(
    facts: FileFacts, scope: Scope, call: cst.Call, depth: int, before: int | None
) -> bool:
    func = call.func
    qualified = facts.resolver.qualify(func)
    if qualified is not None:
        if qualified.rsplit(".", 1)[-1] in _NOT_FOUND_HELPERS:
            return True
        if facts.index.is_model_class(qualified):
            return True  # `Order(...)`: a new instance
    if type(func) is not cst.Attribute:
        return False
    method, receiver = func.attr.value, func.value
    positional = [a.value for a in call.args if a.keyword is None]
    if method in {"get", "query", "get_one"} and positional and _model_class(
        facts, positional[0]
    ):
        return True  # session.get(Order, id) / session.query(Order)
    if method in _ACTIVE_RECORD and _model_class(facts, receiver):
        return True  # Order.find(id) / Order.create(...)
    return method in _QUERY_METHODS and is_model_value(
        facts, scope, receiver, depth + 1, before=before
    )


def describe_unserializable(
    facts: FileFacts,
    scope: Scope,
    expr: cst.BaseExpression,
    depth: int = 0,
    *,
    before: int | None = None,
    payload: str = "json",
) -> str | None:
    """A short description when `expr` is not JSON-native (`a set`, `datetime.now()`…).

    `payload` is the codec: `json`; `kombu` (Celery's JSON, which also carries datetimes,
    Decimals, UUIDs and bytes); `pickle` (RQ, huey, arq, Celery with a pickle serializer),
    where only what pickle refuses is described: a lambda.
    """
    if depth > _MAX_DEPTH or is_model_value(facts, scope, expr, before=before):
        return None
    if type(expr) is cst.Lambda:
        return "a lambda"
    if payload == "pickle":
        if type(expr) is cst.Name:
            for value, _seq in _lookup(scope, expr.value, before):
                if type(value) is cst.Lambda:
                    return "a lambda"
        return None
    if isinstance(expr, cst.Set | cst.SetComp):
        return "a set"
    if type(expr) is cst.SimpleString and "b" in expr.prefix.lower():
        return None if payload == "kombu" else "bytes"
    if type(expr) is cst.Call:
        return _describe_call(facts, expr, payload)
    if type(expr) is cst.Name:
        for current in _scopes(scope):
            if expr.value in current.params or expr.value in current.loops:
                return None
            if expr.value in current.env:
                ordered = before if current is scope else None
                for value, seq in current.bindings(expr.value, ordered):
                    found = describe_unserializable(
                        facts, current, value, depth + 1, before=seq if ordered else None,
                        payload=payload,
                    )
                    if found:
                        return found
                return None
        if facts.index.is_function(facts.resolver.qualify(expr)):
            return f"the function {expr.value}"
    return None


def _describe_call(facts: FileFacts, call: cst.Call, payload: str) -> str | None:
    qualified = facts.resolver.qualify(call.func)
    if qualified is None:
        return None
    short = dotted_name(call.func) or qualified
    if payload == "kombu" and (
        qualified.startswith(_KOMBU_TYPES) or qualified in {"bytes", "bytearray"}
    ):
        return None
    if qualified in _NON_JSON_BUILTINS or qualified.startswith(_NON_JSON_PREFIXES):
        return f"{short}(...)"
    last = qualified.rsplit(".", 1)[-1]
    if facts.index.is_class(qualified) or (last[:1].isupper() and last not in {"OrderedDict"}):
        return f"an instance of {last}"
    return None
