"""Job signatures as plain data, for the project index (JK104's argument counts, --fix's
parameter names); JSON-serialisable, since they travel in the cached module summary."""

from __future__ import annotations

from typing import Any

import libcst as cst

__all__ = ["perform_method", "signature_of"]


def signature_of(node: cst.FunctionDef, *, skip_first: bool) -> dict[str, Any]:
    """A job body's parameters as plain data: `params` ([name, annotation, has default]),
    `varargs`, `kwonly_required`; `skip_first` drops `self` of a method."""
    params = node.params
    positional = [*params.posonly_params, *params.params][1 if skip_first else 0:]
    return {
        "params": [
            [p.name.value, _text(p.annotation.annotation) if p.annotation else "",
             p.default is not None]
            for p in positional
        ],
        "varargs": type(params.star_arg) is cst.Param,
        "kwonly_required": any(p.default is None for p in params.kwonly_params),
        # A decorated `perform` (staticmethod, a wrapper) may not take what it declares.
        "decorated": skip_first and bool(node.decorators),
        # `bind=True` (a leading `self`), `base=` (the task class): what --fix must know.
        "decorator_keywords": sorted({
            a.keyword.value for d in node.decorators if type(d.decorator) is cst.Call
            for a in d.decorator.args if a.keyword is not None
        }),
    }


# Code generation needs a module for its settings only; one serves every annotation.
_MODULE = cst.Module([])


def _text(annotation: cst.BaseExpression) -> str:
    # Most annotations are a bare name, whose code is the name: no code generation needed.
    if type(annotation) is cst.Name and not annotation.lpar:
        return annotation.value
    return _MODULE.code_for_node(annotation)


def perform_method(node: cst.ClassDef) -> cst.FunctionDef | None:
    """The `perform` method defined in a class body, if any."""
    body = node.body.body if type(node.body) is cst.IndentedBlock else ()
    return next(
        (s for s in body if type(s) is cst.FunctionDef and s.name.value == "perform"), None
    )
