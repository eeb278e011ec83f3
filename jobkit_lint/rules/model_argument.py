"""JK101: a model instance or queryset passed as a job argument."""

from __future__ import annotations

from collections.abc import Iterator

from jobkit_lint.rule import (
    FileFacts,
    Rule,
    Violation,
    dotted_name,
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
    over querysets, `self` inside a model class and `request.user`.
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
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag model values anywhere inside each enqueue's job arguments."""
        for enqueue in facts.enqueues:
            for arg in enqueue.args:
                values = iter_arg_values(arg, scope=enqueue.scope, before=enqueue.seq)
                for value in values:
                    if is_model_value(facts, enqueue.scope, value, before=enqueue.seq):
                        label = dotted_name(value) or facts.module.code_for_node(value)
                        yield Violation(
                            value, enqueue.call, self.MESSAGE.format(value=f"`{label}`")
                        )
