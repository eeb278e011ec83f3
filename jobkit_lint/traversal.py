"""Cheap traversal of libcst trees: dataclass fields in source order, whitespace skipped.

A `CSTVisitor` rebuilds every node it visits and costs about as much as parsing; reading the
fields directly costs a fraction of that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import libcst as cst

__all__ = ["FIELDS", "SKIP_TYPES", "call_name", "fields_of", "iter_body_nodes",
           "iter_children"]

_SKIP_FIELDS = frozenset({
    "lpar", "rpar", "comma", "semicolon", "colon", "equal", "leading_lines", "header", "footer",
    "lines_after_decorators", "trailing_whitespace", "newline", "operator", "star", "dot",
    "lbracket", "rbracket", "lbrace", "rbrace", "first_line", "empty_lines", "last_line",
    "indent", "asynchronous", "arrow", "default_indent", "default_newline", "encoding",
    "has_trailing_newline", "attr", "whitespace_after_at", "prefix", "quote",
})
# Field order differs from source order for these: rules read nodes in source order.
_ORDER: dict[type, tuple[str, ...]] = {
    cst.FunctionDef: ("decorators", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "bases", "keywords", "body"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.Parameters: ("posonly_params", "params", "star_arg", "kwonly_params", "star_kwarg"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.ExceptStarHandler: ("type", "name", "body"),
    cst.MatchCase: ("pattern", "guard", "body"),
}
# Per node type, the field names worth reading; filled lazily by fields_of().
FIELDS: dict[type, tuple[str, ...]] = {}


def fields_of(kind: type) -> tuple[str, ...]:
    """The fields of a node type worth reading, in source order."""
    names = FIELDS.get(kind)
    if names is None:
        names = _ORDER.get(kind) or tuple(
            f.name for f in dataclasses.fields(kind)
            if f.name not in _SKIP_FIELDS and not f.name.startswith("whitespace")
        )
        FIELDS[kind] = names
    return names


# CSTNode is an ABC, so isinstance() against it is slow; exact type checks against the few
# non-node field types keep the walk cheap.
_NOT_NODES = frozenset({str, bool, int, type(None), cst.MaybeSentinel})
# Nodes with nothing below them that any rule reads: never worth a call.
_LEAVES = frozenset({
    cst.Name, cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.Ellipsis, cst.Pass,
    cst.Break, cst.Continue, cst.ImportStar, cst.Newline, cst.EmptyLine,
})
SKIP_TYPES = _NOT_NODES | _LEAVES


def iter_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Child nodes that can hold code, in source order, skipping whitespace and punctuation."""
    children: list[cst.CSTNode] = []
    for name in fields_of(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            children.extend(value)
        elif kind not in _NOT_NODES:
            children.append(value)
    return children


def iter_body_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under `node` in pre-order, not entering nested functions or classes."""
    # Several rules walk every job body: iter_children is inlined, children are pushed
    # and reversed in place, without a list of their own.
    stack = iter_children(node)[::-1]
    pop, push = stack.pop, stack.append
    fields, not_nodes, scopes = FIELDS, _NOT_NODES, _SCOPES
    while stack:
        current = pop()
        yield current
        kind = type(current)
        if kind in scopes:
            continue
        mark = len(stack)
        for name in fields.get(kind) or fields_of(kind):
            value = getattr(current, name)
            value_kind = type(value)
            if value_kind is tuple or value_kind is list:
                stack.extend(value)
            elif value_kind not in not_nodes:
                push(value)
        if len(stack) - mark > 1:
            stack[mark:] = stack[mark:][::-1]


_SCOPES = frozenset({cst.FunctionDef, cst.ClassDef, cst.Lambda})


def call_name(call: cst.Call) -> str:
    """The called method or function name (`save` for `order.save()`)."""
    func = call.func
    if type(func) is cst.Attribute:
        return func.attr.value
    return func.value if type(func) is cst.Name else ""
