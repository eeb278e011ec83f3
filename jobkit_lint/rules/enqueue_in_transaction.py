"""JK402: an enqueue inside an open database transaction."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from jobkit_lint.rule import FileFacts, Rule, Violation, dotted_name


class EnqueueInTransaction(Rule):
    """Enqueue after the commit, not inside the transaction.

    A worker can pick the job up before the surrounding transaction commits: it then reads
    the old row, or misses a new row entirely. If the transaction rolls back, the job runs
    for something that never happened. Enqueue from `transaction.on_commit(...)` (Django) or
    after the `session.begin()` block (SQLAlchemy), or let jobkit do it:
    `Job.set(after_commit=session).perform_async(...)` pushes at the commit, and
    `Job.set(outbox=session)` writes the job in the transaction itself.
    """

    CODE = "JK402"
    NAME = "enqueue-in-transaction"
    MESSAGE = "{job} is enqueued inside a transaction and can run before the commit; {fix}"
    FIXES = {
        "django": "enqueue from transaction.on_commit(...)",
        "sqlalchemy": "enqueue after the `session.begin()` block, once it has committed",
        "other": "enqueue after the transaction commits",
    }
    VALID = (
        """\
from django.db import transaction
from shop.tasks import send_receipt

def checkout(order):
    with transaction.atomic():
        order.save()
        transaction.on_commit(lambda: send_receipt.delay(order.id))
""",
        # A read-only replica transaction commits nothing (see `read-only-databases`).
        """\
from django.db import transaction
from django.conf import settings
from shop.tasks import send_receipt

def report(order):
    with transaction.atomic(using=settings.DATABASE_REPLICA, savepoint=False):
        send_receipt.delay(order.id)
""",
        # `partial(task.delay, ...)` in on_commit, and Celery 5.4's `*_on_commit`.
        """\
from functools import partial
from django.db import transaction
from shop.tasks import send_receipt

def checkout(order):
    with transaction.atomic():
        order.save()
        transaction.on_commit(partial(send_receipt.delay, order.id))
        send_receipt.delay_on_commit(order.id)
        send_receipt.apply_async_on_commit(args=[order.id])
""",
        # jobkit ties these to the commit itself.
        """\
from shop.jobs import ReceiptJob

def checkout(session, order):
    with session.begin():
        session.add(order)
        ReceiptJob.set(after_commit=session).perform_async(order.id)
        ReceiptJob.set(outbox=session).perform_async(order.id)
""",
    )
    INVALID = (
        """\
from django.db import transaction
from shop.tasks import send_receipt

def checkout(order):
    with transaction.atomic():
        order.save()
        send_receipt.delay(order.id)
""",
        """\
from django.db import transaction
from shop.jobs import ReceiptJob

@transaction.atomic
def checkout(order):
    order.save()
    ReceiptJob.perform_async(order.id)
""",
        """\
from shop.jobs import ReceiptJob

def checkout(session, order):
    with session.begin():
        session.add(order)
        ReceiptJob.perform_async(order.id)
""",
        # Any context manager whose name contains `atomic` or `transaction`.
        """\
from saleor.core.tracing import traced_atomic_transaction
from shop.tasks import send_receipt

def checkout(order):
    with traced_atomic_transaction():
        order.save()
        send_receipt.delay(order.id)
""",
        # RQ's `Queue.enqueue_job(job)`.
        """\
from django.db import transaction
from rq import Queue
from rq.job import Job

def checkout(order, redis):
    with transaction.atomic():
        order.save()
        job = Job.create("shop.work.receipt", args=[order.id], connection=redis)
        Queue(connection=redis).enqueue_job(job)
""",
        # Django 6 tasks.
        """\
from django.db import transaction
from django.tasks import task

@task
def send_receipt(order_id):
    ...

def checkout(order):
    with transaction.atomic():
        order.save()
        send_receipt.using(priority=10).enqueue(order.id)
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag enqueues in atomic blocks that are not deferred to on_commit."""
        for enqueue in facts.enqueues:
            if enqueue.in_transaction and not enqueue.on_commit and not _deferred(enqueue.call):
                func = enqueue.call.func
                label = dotted_name(func) or "the job"
                fix = self.FIXES[_orm(facts, enqueue.call)]
                yield Violation(enqueue.call,
                                message=self.MESSAGE.format(job=f"`{label}`", fix=fix))


def _deferred(call: cst.Call) -> bool:
    """``Job.set(after_commit=...)`` or ``Job.set(outbox=...)``: jobkit ties it to the commit."""
    func = call.func
    if not (type(func) is cst.Attribute and type(func.value) is cst.Call):
        return False
    inner = func.value
    return (type(inner.func) is cst.Attribute and inner.func.attr.value == "set"
            and any(a.keyword is not None and a.keyword.value in ("after_commit", "outbox")
                    for a in inner.args))


def _orm(facts: FileFacts, call: cst.Call) -> str:
    """Which ORM's transaction holds `call`: SQLAlchemy inside `with x.begin():`, else Django
    if the module uses Django (wrappers such as `traced_atomic()` included)."""
    around = _with_items_around(facts.module, call) or []
    if any(_opens_session(item.item) for item in around):
        return "sqlalchemy"
    modules = list(facts.resolver.imports.values())
    if any(m == "django" or m.startswith("django.") for m in modules):
        return "django"
    if any(m.startswith(("sqlalchemy", "flask_sqlalchemy")) for m in modules):
        return "sqlalchemy"
    return "other"


def _opens_session(expr: cst.BaseExpression) -> bool:
    return type(expr) is cst.Call and type(expr.func) is cst.Attribute and (
        expr.func.attr.value in {"begin", "begin_nested"}
    )


def _with_items_around(node: cst.CSTNode, target: cst.CSTNode) -> list[cst.WithItem] | None:
    """The items of every `with` around `target`, or None when `target` is not under `node`
    (a walk of the whole module, done only for a finding)."""
    if node is target:
        return []
    for child in node.children:
        found = _with_items_around(child, target)
        if found is not None:
            return [*node.items, *found] if type(node) is cst.With else found
    return None
