"""JK101: a model instance or queryset passed as a job argument."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from jobkit_lint.rule import (
    FileFacts,
    Rule,
    Violation,
    dotted_name,
    forwarded_keywords,
    is_model_value,
    iter_arg_values,
)


class ModelArgument(Rule):
    """Pass a record's id to a job, not the model object.

    A model instance is serialised when the job is enqueued and used when it runs, maybe
    minutes later: by then the row may have changed or been deleted, and most job payloads
    cannot hold an ORM object at all. Pass `order.id` and look the record up inside the job.

    Model values are recognised through imports: Django, SQLAlchemy, peewee and
    Flask-SQLAlchemy classes, classes from modules named `models` (see `model-modules`),
    ORM look-ups (`Order.objects.get(...)`, `session.get(Order, id)`, `Order.query.get(id)`,
    `get_object_or_404(Order, ...)`), parameters annotated with a model class, loop variables
    over querysets, `self` inside a model class and `request.user`. An unannotated parameter
    of a module-level function holds what this module's calls pass to it, and a value read
    from a container (`cache[key]`) what was stored in it; the keyword arguments of those
    calls are followed into a `**kwargs` the function hands to the job.
    """

    CODE = "JK101"
    NAME = "model-argument"
    MESSAGE = "{value} is a model object passed as a job argument; pass its id instead"
    VALID = (
        """\
from shop.models import Order
from shop.tasks import send_receipt

def checkout(order_id):
    order = Order.objects.get(id=order_id)
    send_receipt.delay(order.id, {"email": order.email}, str(order.uuid))
""",
        """\
import websocket

def notify(order):
    websocket.send(order)
""",
        # What this module passes to the unannotated parameter is ids, not records.
        """\
import django_rq
from shop.models import Order

def notify_all(order_ids):
    for order_id in order_ids:
        django_rq.get_queue("default").enqueue("shop.work.notify", order_id)

def flush():
    notify_all(Order.objects.values_list("id", flat=True)[:10])
""",
        # The name's last binding before the enqueue is a string.
        """\
import json
from shop.models import Order
from shop.tasks import export

def view(order_id):
    order = Order.objects.get(id=order_id)
    order = json.dumps({"id": order.id})
    export.delay(order)
""",
    )
    INVALID = (
        """\
from shop.models import Order
from shop.tasks import send_receipt

def checkout(order_id):
    order = Order.objects.get(id=order_id)
    send_receipt.delay(order)
""",
        """\
from django.shortcuts import get_object_or_404
from shop.models import Order
from shop.tasks import send_receipt

def view(request, pk):
    order = get_object_or_404(Order, pk=pk)
    send_receipt.apply_async(args=[order], countdown=10)
""",
        """\
from shop.models import Order
from shop.jobs import ReceiptJob

def resend(order: Order):
    ReceiptJob.perform_async(order)
""",
        """\
from shop.tasks import audit

def view(request):
    audit.delay(request.user)
""",
        # Celery's `send_task` by name.
        """\
from celery import current_app
from shop.models import Order

def view(order_id):
    order = Order.objects.get(id=order_id)
    current_app.send_task("shop.tasks.ship", args=[order], countdown=5)
""",
        # `partial(task.delay, obj)` handed to on_commit.
        """\
from functools import partial
from django.db import transaction
from shop.models import Order
from shop.tasks import ship

def view(order_id):
    order = Order.objects.get(id=order_id)
    transaction.on_commit(partial(ship.delay, order))
""",
        # Values inside a `**params` dict.
        """\
import django_rq
from shop.models import Order

def view(order_id):
    params = {"order": Order.objects.get(id=order_id), "notify": True}
    django_rq.get_queue("default").enqueue("shop.work.ship", **params)
""",
        # An unannotated parameter: what this module passes to it, here a queryset cached
        # in a dict, iterated and put in the `**params` dict.
        """\
import django_rq
from shop.models import Order

def notify_all(orders, event):
    for order in orders:
        params = {"order": order, "event": event}
        django_rq.get_queue("default").enqueue("shop.work.notify", **params)

def flush(events):
    cache = {}
    for event in events:
        cache[event] = Order.objects.filter(status=event)
        notify_all(cache[event], event)
""",
        # Keyword arguments followed into a `**params` handed on to the queue: the finding
        # is at the call that passes the model.
        """\
import django_rq
from shop.models import Order

def enqueue_job(func, **params):
    django_rq.get_queue("default").enqueue(func, **params)

def ship(order_id):
    enqueue_job("shop.work.ship", order=Order.objects.get(id=order_id), notify=True)
""",
        # Django 6 tasks: `.enqueue(...)` arguments are job arguments.
        """\
from django.tasks import task
from shop.models import Order

@task(priority=5)
def ship(order):
    ...

def view(order_id):
    ship.enqueue(Order.objects.get(id=order_id))
""",
        # A huey wrapper decorator: calling the task enqueues it.
        """\
import functools
from huey.contrib.djhuey import HUEY as huey
from shop.models import Order

def task(retries=5):
    def deco(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            return fn(*args, **kwargs)
        return huey.task(retries=retries, context=True)(inner)
    return deco

@task()
def ship(order):
    ...

def view(order_id):
    ship(Order.objects.get(id=order_id))
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag model values anywhere inside each enqueue's job arguments."""
        for enqueue in facts.enqueues:
            for arg in enqueue.args:
                values = iter_arg_values(arg, scope=enqueue.scope, before=enqueue.seq)
                for value in values:
                    if is_model_value(facts, enqueue.scope, value, before=enqueue.seq):
                        yield self._violation(facts, value, enqueue.call)
                if type(arg) is not cst.Name:
                    continue
                for value, caller, seq in forwarded_keywords(facts, enqueue.scope, arg.value):
                    if is_model_value(facts, caller, value, before=seq):
                        yield self._violation(facts, value, enqueue.call)

    def _violation(self, facts: FileFacts, value: cst.BaseExpression,
                   call: cst.CSTNode) -> Violation:
        label = dotted_name(value) or facts.module.code_for_node(value)
        return Violation(value, call, self.MESSAGE.format(value=f"`{label}`"))
