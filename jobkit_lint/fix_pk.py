"""The JK101 half of `--fix`: when `order` may become `order.pk` in a job argument.

Only where the job's own signature asks for an id (a parameter named `*_id` or annotated
`int`) and the name is known to hold one saved Django model instance; see `fix.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import libcst as cst

from jobkit_lint.facts import Enqueue, FileFacts, Scope

__all__ = ["pk_blocker"]

_INSTANCE_LOOKUPS = frozenset({"get", "aget", "create", "acreate"})
_QUERYSET_METHODS = frozenset({
    "all", "filter", "exclude", "order_by", "select_related", "prefetch_related", "only",
    "defer", "distinct", "iterator", "using", "annotate", "select_for_update",
})


def pk_blocker(
    facts: FileFacts, enqueue: Enqueue | None, value: cst.CSTNode, *, django: bool
) -> str | None:
    """Why `value` cannot become `value.pk`, or None when it can; `django` says the project
    uses Django (for annotated parameters and `self`, where no `.objects` look-up shows it)."""
    if enqueue is None or type(value) is not cst.Name:
        return "only a plain name can be rewritten"
    signature = facts.index.signature(enqueue.job)
    if signature is None:
        return "the job's signature is not in the linted tree"
    param = _parameter(enqueue, value, signature)
    if param is None:
        return "the argument's parameter cannot be matched"
    name, annotation = param
    if not (name.endswith("_id") or annotation == "int"):
        return f"the job's parameter `{name}` is neither named *_id nor annotated int"
    if not _django_instance(facts, enqueue.scope, value.value, django=django):
        return "not known to be one saved Django model instance"
    return None


def _parameter(
    enqueue: Enqueue, value: cst.Name, signature: dict[str, Any]
) -> tuple[str, str] | None:
    params: list[list[Any]] = signature["params"]
    if params and params[0][0] in {"self", "task"} and "bind" in signature.get(
        "decorator_keywords", []
    ):
        params = params[1:]
    call = enqueue.call
    method = call.func.attr.value if type(call.func) is cst.Attribute else ""
    slots: Iterator[tuple[int | str, cst.BaseExpression]]
    if method in {"apply_async", "signature", "send_with_options"}:
        slots = _packed_slots(call)
    else:
        slots = _direct_slots(call, skip=1 if method in {"perform_in", "perform_at"} else 0)
    for slot, expr in slots:
        if expr is not value:
            continue
        if isinstance(slot, str):
            return next(((p[0], p[1]) for p in params if p[0] == slot), None)
        return (params[slot][0], params[slot][1]) if slot < len(params) else None
    return None


def _direct_slots(call: cst.Call, *, skip: int) -> Iterator[tuple[int | str, cst.BaseExpression]]:
    position = -skip
    for arg in call.args:
        if arg.star:
            return  # positions after *args are unknown
        if arg.keyword is not None:
            yield arg.keyword.value, arg.value
        else:
            if position >= 0:
                yield position, arg.value
            position += 1


def _packed_slots(call: cst.Call) -> Iterator[tuple[int | str, cst.BaseExpression]]:
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    named = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    args = named.get("args", positional[0] if positional else None)
    kwargs = named.get("kwargs", positional[1] if len(positional) > 1 else None)
    if isinstance(args, cst.List | cst.Tuple):
        for i, element in enumerate(args.elements):
            if type(element) is cst.StarredElement:
                return
            yield i, element.value
    if type(kwargs) is cst.Dict:
        for item in kwargs.elements:
            if type(item) is cst.DictElement and type(item.key) is cst.SimpleString:
                key = item.key.evaluated_value
                if isinstance(key, str):
                    yield key, item.value


def _django_instance(facts: FileFacts, scope: Scope, name: str, *, django: bool) -> bool:
    """One model instance (not a queryset, not maybe-None) from a Django idiom; `django`
    says the project uses Django, for the cases without an `.objects` look-up to show it."""
    current: Scope | None = scope
    while current is not None:
        if name == "self" and current.class_name is not None:
            return django and facts.index.is_model_class(current.class_name)
        if name in current.params:
            annotation = current.params[name]
            return (
                django and isinstance(annotation, cst.Name | cst.Attribute)
                and facts.index.is_model_class(facts.resolver.qualify(annotation))
            )
        if name in current.loops:
            return _queryset(current.loops[name])
        if name in current.env:
            return all(_instance_lookup(facts, v) for v in current.env[name])
        current = current.parent
    return False


def _instance_lookup(facts: FileFacts, expr: cst.BaseExpression) -> bool:
    if type(expr) is cst.Await:
        expr = expr.expression
    if type(expr) is not cst.Call:
        return False
    qualified = facts.resolver.qualify(expr.func) or ""
    if qualified == "django.shortcuts.get_object_or_404":
        return True
    func = expr.func
    return (
        type(func) is cst.Attribute and func.attr.value in _INSTANCE_LOOKUPS
        and _queryset(func.value)
    )


def _queryset(expr: cst.BaseExpression) -> bool:
    """`Model.objects` and chains of queryset methods on it (`.filter(...).all()`)."""
    while type(expr) is cst.Call and type(expr.func) is cst.Attribute:
        if expr.func.attr.value not in _QUERYSET_METHODS:
            return False
        expr = expr.func.value
    return type(expr) is cst.Attribute and expr.attr.value == "objects"
