"""JK104: a jobkit enqueue the runtime refuses with `ArgumentError`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import libcst as cst

from jobkit_lint.rule import Enqueue, FileFacts, Rule, Violation, dotted_name, iter_arg_values

_SENDS = frozenset({"perform_async", "perform_in", "perform_at"})
_NON_FINITE = frozenset({"nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"})
_NON_FINITE_CONSTANTS = frozenset({"math.nan", "math.inf", "numpy.nan", "numpy.inf"})


def _non_finite(facts: FileFacts, expr: cst.BaseExpression) -> bool:
    if type(expr) is cst.UnaryOperation:
        return _non_finite(facts, expr.expression)
    if type(expr) is cst.Attribute:
        return facts.resolver.qualify(expr) in _NON_FINITE_CONSTANTS
    if type(expr) is cst.Call and dotted_name(expr.func) == "float" and len(expr.args) == 1:
        text = expr.args[0].value
        value = text.evaluated_value if type(text) is cst.SimpleString else None
        return isinstance(value, str) and value.strip().lower() in _NON_FINITE
    return False


def _bad_key(key: cst.BaseExpression) -> str | None:
    if isinstance(key, cst.Integer | cst.Float | cst.Tuple):
        return cst.Module([]).code_for_node(key)
    if type(key) is cst.Name and key.value in {"True", "False", "None"}:
        return key.value
    return None


def _wanted(low: int, high: int | None) -> str:
    if low == high:
        return str(low)
    return f"{low} to {high}" if high is not None else f"{low} or more"


def _arity(signature: dict[str, Any]) -> tuple[int, int | None] | None:
    if signature.get("decorated") or signature.get("kwonly_required"):
        return None
    params = signature["params"]
    low = sum(1 for _name, _annotation, has_default in params if not has_default)
    return low, None if signature["varargs"] else len(params)


class EnqueueRefused(Rule):
    """Find the jobkit enqueues that raise `ArgumentError` before they run.

    The jobkit runtime validates every enqueue and raises `jobkit.ArgumentError` for
    arguments Sidekiq's JSON format cannot carry. This rule finds those calls in the source,
    for jobs defined in the linted tree: keyword arguments to `perform_async`/`perform_in`/
    `perform_at` (the format has positional arguments only); a number of arguments that
    `perform` cannot take (read from its signature, inherited `perform` included); tuples
    (pass a list: a tuple would come back as a list); `float("nan")`, `math.inf` and other
    non-finite floats (no JSON form); and dict keys that are not strings (`{1: "a"}` would
    come back as `{"1": "a"}`). `perform_bulk` rows are checked the same way. JK102 covers
    values that are not JSON at all (datetimes, sets…) for every framework; this rule is only
    what jobkit itself refuses, so its findings are certain errors.
    """

    CODE = "JK104"
    NAME = "enqueue-refused"
    MESSAGE = "jobkit refuses this enqueue at run time: {why}"
    VALID = (
        """\
import jobkit

class ShipJob(jobkit.Job):
    def perform(self, order_id, options=None):
        pass

ShipJob.perform_async(7)
ShipJob.perform_in(60, 7, {"express": True, "boxes": [1, 2]})
ShipJob.perform_bulk([[1], [2, {"express": False}]])
""",
    )
    INVALID = (
        """\
import jobkit

class ShipJob(jobkit.Job):
    def perform(self, order_id):
        pass

ShipJob.perform_async(7, express=True)
""",
        """\
import jobkit

class ShipJob(jobkit.Job):
    def perform(self, order_id):
        pass

ShipJob.perform_async(7, 8)
""",
        """\
import jobkit

@jobkit.job
def record(point, weights):
    pass

record.perform_async((1.0, 2.0), {1: float("nan")})
""",
        """\
import jobkit

class ShipJob(jobkit.Job):
    def perform(self, order_id):
        pass

ShipJob.perform_bulk([[1], [2, 3]])
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag keyword arguments, wrong counts, tuples, NaN and non-string keys."""
        for enqueue in facts.enqueues:
            func = enqueue.call.func
            if type(func) is not cst.Attribute or enqueue.framework != "jobkit":
                continue
            if facts.index.job_framework(enqueue.job) != "jobkit":
                continue
            method = func.attr.value
            # The job as written, generated only for a message: code generation is not free.
            receiver = func.value
            if method in _SENDS:
                yield from self._send(facts, enqueue, method, receiver)
            elif method == "perform_bulk":
                yield from self._bulk(facts, enqueue, receiver)

    def _send(
        self, facts: FileFacts, enqueue: Enqueue, method: str, job: cst.BaseExpression
    ) -> Iterator[Violation]:
        call = enqueue.call
        for arg in call.args:
            if arg.keyword is not None:
                yield self._violation(
                    arg.value, call,
                    f"keyword argument `{arg.keyword.value}=` (jobs take positional arguments "
                    "only; pass it positionally or inside one dict)",
                )
        if not any(a.star for a in call.args):
            skip = 0 if method == "perform_async" else 1
            count = sum(1 for a in call.args if a.keyword is None) - skip
            yield from self._count(facts, enqueue, job, count, call)
        for arg in call.args[0 if method == "perform_async" else 1:]:
            if arg.keyword is None and not arg.star:
                yield from self._values(facts, arg.value, call)

    def _bulk(
        self, facts: FileFacts, enqueue: Enqueue, job: cst.BaseExpression
    ) -> Iterator[Violation]:
        call = enqueue.call
        first = next((a.value for a in call.args if a.keyword is None), None)
        rows: list[cst.BaseExpression] = []
        if isinstance(first, cst.List | cst.Tuple):
            rows = [e.value for e in first.elements if type(e) is not cst.StarredElement]
        elif isinstance(first, cst.ListComp | cst.GeneratorExp):
            rows = [first.elt]
        for row in rows:
            if not isinstance(row, cst.List | cst.Tuple):
                continue
            if not any(type(e) is cst.StarredElement for e in row.elements):
                yield from self._count(facts, enqueue, job, len(row.elements), row)
            for element in row.elements:
                yield from self._values(facts, element.value, call)

    def _count(
        self, facts: FileFacts, enqueue: Enqueue, job: cst.BaseExpression, count: int,
        node: cst.CSTNode,
    ) -> Iterator[Violation]:
        signature = facts.index.signature(enqueue.job)
        arity = _arity(signature) if signature is not None else None
        if arity is None:
            return
        low, high = arity
        if count < low or (high is not None and count > high):
            label = facts.module.code_for_node(job)
            yield self._violation(
                node, enqueue.call,
                f"`{label}.perform` takes {_wanted(low, high)} argument(s) but {count} are passed",
            )

    def _values(
        self, facts: FileFacts, arg: cst.BaseExpression, call: cst.Call
    ) -> Iterator[Violation]:
        for value in iter_arg_values(arg):
            if type(value) is cst.Tuple or (
                type(value) is cst.Call and dotted_name(value.func) == "tuple"
            ):
                yield self._violation(value, call, "a tuple (pass a list)")
            elif _non_finite(facts, value):
                text = facts.module.code_for_node(value)
                yield self._violation(value, call, f"`{text}` has no JSON form")
            elif type(value) is cst.Dict:
                for element in value.elements:
                    key = _bad_key(element.key) if type(element) is cst.DictElement else None
                    if key is not None:
                        yield self._violation(
                            value, call, f"dict key `{key}` is not a string (convert it with str())"
                        )

    def _violation(self, node: cst.CSTNode, call: cst.Call, why: str) -> Violation:
        return Violation(node, call if node is not call else None, self.MESSAGE.format(why=why))
