"""JK403: one enqueue per loop iteration where the framework has a bulk API."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import libcst as cst

from jobkit_lint.rule import (
    Enqueue,
    FileFacts,
    Rule,
    Scope,
    Violation,
    iter_body_nodes,
)

# Only sends that a bulk call replaces; scheduling variants have no bulk form.
_BULK = {
    ("jobkit", "perform_async"): "`{job}.perform_bulk([[...], ...])` sends them in pipelined "
                                 "round trips",
    ("celery", "delay"): "`group({job}.s(...) for ...)` or `{job}.chunks(...)` sends them at once",
    ("celery", "apply_async"): "`group({job}.s(...) for ...)` or `{job}.chunks(...)` sends them "
                               "at once",
    ("rq", "enqueue"): "`queue.enqueue_many([Queue.prepare_data(...), ...])` sends them in "
                       "one pipeline",
    ("rq", "enqueue_call"): "`queue.enqueue_many([Queue.prepare_data(...), ...])` sends them "
                            "in one pipeline",
    # `@job` functions' `.delay()` is `Queue.enqueue` underneath.
    ("rq", "delay"): "`queue.enqueue_many([Queue.prepare_data(...), ...])` sends them in one "
                     "pipeline",
}
# Exact types: every node on a call's path is checked, and a failing isinstance() against
# libcst classes is slow.
_COMPREHENSIONS = frozenset({cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp})
_SCOPES = frozenset({cst.FunctionDef, cst.ClassDef})
_SUITES = frozenset({cst.IndentedBlock, cst.SimpleStatementSuite})
_EXITS = (cst.Break, cst.Return, cst.Raise)
_SMALL = 10  # a loop over a literal of at most this many items is not worth a bulk call
_BATCH_WORDS = re.compile(r"chunk|batch|page|slice|partition", re.IGNORECASE)
_CANVAS = frozenset({"group", "chord", "chain", "chunks", "starmap", "xmap", "signature"})


def _exits(block: cst.BaseSuite) -> bool:
    """Whether a block ends the loop (break/return/raise), so its body runs at most once."""
    statements: Sequence[cst.CSTNode] = (
        block.body if type(block) is cst.IndentedBlock else (block,))
    return any(
        isinstance(stmt, cst.SimpleStatementLine | cst.SimpleStatementSuite)
        and any(isinstance(small, _EXITS) for small in stmt.body)
        for stmt in statements
    )


def _small_literal(
    iterable: cst.BaseExpression, literals: dict[str, cst.BaseExpression] | None = None
) -> bool:
    if type(iterable) is cst.Name and literals and iterable.value in literals:
        return _small_literal(literals[iterable.value])
    if isinstance(iterable, cst.List | cst.Tuple | cst.Set | cst.Dict):
        return len(iterable.elements) <= _SMALL
    if (
        type(iterable) is cst.Call and type(iterable.func) is cst.Name
        and iterable.func.value == "range" and 1 <= len(iterable.args) <= 2
        and all(type(a.value) is cst.Integer for a in iterable.args)
    ):
        bounds = [int(a.value.value, 0) for a in iterable.args if type(a.value) is cst.Integer]
        return bounds[-1] - (bounds[0] if len(bounds) == 2 else 0) <= _SMALL
    return False


def _batched_loop(loop: cst.For) -> bool:
    """A loop over chunks (`for chunk in chunked(ids, 100)`, `range(0, n, size)`) already
    enqueues one job per batch, which is what a bulk API would save."""
    iterable, target = loop.iter, loop.target
    if type(iterable) is cst.Call:
        name = iterable.func.attr.value if type(iterable.func) is cst.Attribute else (
            iterable.func.value if type(iterable.func) is cst.Name else ""
        )
        if name == "range" and len(iterable.args) == 3:
            return True
        if _BATCH_WORDS.search(name):
            return True
    return type(target) is cst.Name and bool(_BATCH_WORDS.search(target.value))


def _batched_argument(call: cst.Call) -> bool:
    """An argument that is a slice or names a batch: the job already takes many items."""
    for arg in call.args:
        for node in (arg.value, *iter_body_nodes(arg.value)):
            if type(node) is cst.Slice:
                return True
            if type(node) is cst.Name and _BATCH_WORDS.search(node.value):
                return True
    return False


def _flush_test(test: cst.BaseExpression) -> bool:
    """`if len(pending) >= batch_size:`: an accumulate-and-flush batch inside a loop."""
    return any(
        type(n) is cst.Call and type(n.func) is cst.Name and n.func.value == "len"
        for n in (test, *iter_body_nodes(test))
    )


def _bound_literal(scope: Scope | None, name: str, upto: int) -> cst.BaseExpression | None:
    """The non-empty literal `name` holds at binding number `upto`, if its last binding by
    then is one: `items = []` is filled before the loop. A function sees the enclosing
    scope's bindings made before it was entered (`STREAMS = {...}` at module level)."""
    while scope is not None:
        seqs = scope.seqs.get(name, [])
        earlier = [i for i, seq in enumerate(seqs) if seq <= upto]
        if earlier:
            value = scope.env[name][earlier[-1]]
            if isinstance(value, cst.List | cst.Tuple | cst.Set | cst.Dict) and value.elements:
                return value
            return None
        upto = scope.opened
        scope = scope.parent
    return None


def _in_loop(facts: FileFacts, enqueue: Enqueue) -> bool:
    """Whether the call runs once per iteration of a loop, read down the path the analysis
    walked to it: a def or class starts afresh, a repeating `for` body or a comprehension
    loops, and a block that exits the loop or an accumulate-and-flush `if` body runs once."""
    path = enqueue.path
    # A call the analysis built (`partial(task.delay, x)` read as `task.delay(x)`) is no
    # node of the tree.
    if not path or path[-1] is not enqueue.call:
        return False
    looping = False
    last = len(path) - 1
    i = 0
    while i < last:
        child = path[i + 1]
        after = path[i + 2] if i + 2 <= last else None
        kind = type(child)
        if kind in _SCOPES:
            looping = False
        elif kind is cst.For and isinstance(child, cst.For):
            if after is child.body:
                literals: dict[str, cst.BaseExpression] = {}
                if type(child.iter) is cst.Name:
                    upto = facts.for_seqs.get(id(child), 0)
                    value = _bound_literal(enqueue.scope, child.iter.value, upto)
                    if value is not None:
                        literals[child.iter.value] = value
                looping = looping or not (
                    _small_literal(child.iter, literals) or _exits(child.body)
                    or _batched_loop(child)
                )
            elif after is None or (after is not child.iter and after is not child.orelse):
                return False  # the loop target: no call there is one per iteration
            i += 2
            continue
        elif kind in _COMPREHENSIONS:
            looping = True
        elif looping and kind in _SUITES and isinstance(child, cst.BaseSuite) and _exits(child):
            looping = False
        elif looping and type(child) is cst.If and _flush_test(child.test):
            if after is child.body:
                looping = False
            i += 2
            continue
        elif i + 1 == last:
            return looping
        i += 1
    return False


def _canvas(facts: FileFacts, receiver: cst.BaseExpression) -> bool:
    """`group(...).delay()`, `chord(...)()`, `task.s(...).apply_async()`: already a bulk send."""
    if type(receiver) is not cst.Call:
        return False
    func = receiver.func
    if type(func) is cst.Attribute and func.attr.value in {"s", "si", "signature"}:
        return True
    name = (facts.resolver.qualify(func) or "").rsplit(".", 1)[-1]
    return name in _CANVAS


def _queue_receiver(facts: FileFacts, receiver: cst.BaseExpression) -> bool:
    """RQ enqueues go through a queue instance; `ScriptJob.enqueue(...)` is a class's own API."""
    qualified = facts.resolver.qualify(receiver)
    if qualified is None:
        return True
    if qualified in {"self", "cls"}:
        return False  # a class's own `enqueue` method (a wrapper or a test helper)
    last = qualified.rsplit(".", 1)[-1]
    return not (last[:1].isupper() or facts.index.is_class(qualified))


class EnqueueInLoop(Rule):
    """Enqueue many jobs with one bulk call, not one call per loop iteration.

    Each enqueue is a round trip to Redis or the broker; a loop over ten thousand records
    makes ten thousand, holds the request or job that runs it for all of them, and leaves
    half of the jobs enqueued when it fails in the middle. jobkit has `perform_bulk`,
    Celery has `group(...)` and `chunks(...)`, RQ has `enqueue_many`: build the argument
    lists in the loop and enqueue once. Frameworks without a bulk API (Dramatiq, arq, huey,
    Django tasks) and the scheduling variants (`perform_in`, `enqueue_in`) are not flagged,
    nor are loops over a literal of at most ten items, `while` loops (usually polling or
    paging) and loop bodies that end with `break`, `return` or `raise`.
    """

    CODE = "JK403"
    NAME = "enqueue-in-loop"
    MESSAGE = "`{call}` enqueues one job per loop iteration; {advice}"
    VALID = (
        """\
from shop.jobs import ReceiptJob

def resend(orders):
    ReceiptJob.perform_bulk([[order.id] for order in orders])
""",
        """\
from shop.tasks import rebuild

def rebuild_all():
    for region in ("eu", "us"):
        rebuild.delay(region)
""",
        """\
from celery import group
from shop.tasks import reindex

def reindex_all(product_ids):
    for chunk in chunked(product_ids, 500):
        reindex.delay(list(chunk))
    group(reindex.s([pid]) for pid in product_ids).delay()
""",
        """\
from shop.tasks import notify

def first_overdue(invoices):
    for invoice in invoices:
        if invoice.overdue:
            notify.delay(invoice.id)
            break
""",
    )
    INVALID = (
        """\
from shop.jobs import ReceiptJob

def resend(orders):
    for order in orders:
        ReceiptJob.perform_async(order.id)
""",
        """\
from shop.tasks import reindex

def reindex_all(product_ids):
    [reindex.delay(pid) for pid in product_ids]
""",
        """\
from rq import Queue
from shop.work import resize

def resize_all(queue: Queue, images):
    for image in images:
        queue.enqueue(resize, image.id)
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag bulk-capable enqueues that run once per iteration of a loop."""
        for enqueue in facts.enqueues:
            func = enqueue.call.func
            if type(func) is not cst.Attribute:
                continue
            advice = _BULK.get((enqueue.framework, func.attr.value))
            # The cheap test first: reading the path is cheaper than walking the arguments.
            if not advice or not _in_loop(facts, enqueue) or _batched_argument(enqueue.call):
                continue
            receiver = func.value
            if _canvas(facts, receiver) or (
                enqueue.framework == "rq" and not _queue_receiver(facts, receiver)
            ):
                continue
            job = facts.module.code_for_node(func.value)
            label = facts.module.code_for_node(func)
            yield Violation(enqueue.call, message=self.MESSAGE.format(
                call=label, advice=advice.format(job=job),
            ))
