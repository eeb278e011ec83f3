"""JK201: a job body that holds business logic instead of delegating to a service."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from jobkit_lint.rule import (
    FileFacts,
    Rule,
    Violation,
    call_name,
    dotted_name,
    iter_body_nodes,
    iter_children,
)

SIDE_EFFECTS = frozenset({
    "save", "update", "delete", "create", "bulk_create", "bulk_update", "update_or_create",
    "send", "send_mail", "send_email", "send_message", "deliver", "notify", "publish",
    "charge", "refund", "capture", "post", "put", "patch", "commit", "execute", "increment",
    "decrement", "delay", "apply_async", "perform_async", "enqueue", "write",
})
# Handing work on to another job is orchestration, not business logic: a dispatcher whose
# branches each enqueue one job, or a batch job that re-enqueues itself for the next batch.
_ENQUEUES = frozenset({"delay", "apply_async", "perform_async", "enqueue", "send_task",
                       "delay_on_commit", "apply_async_on_commit"})
_MAX_SIDE_EFFECTS = 3
_INSTRUMENTS = ("metric", "stats", "statsd", "tracer", "span")


def _local_dicts(nodes: list[cst.CSTNode]) -> set[str]:
    """Names bound to a dict in the body, and `**kwargs`: their `.update()` is no side effect."""
    names: set[str] = set()
    for node in nodes:
        if type(node) is cst.Assign and (
            isinstance(node.value, cst.Dict | cst.DictComp)
            or (type(node.value) is cst.Call and dotted_name(node.value.func) == "dict")
        ):
            names.update(t.target.value for t in node.targets if type(t.target) is cst.Name)
    return names


def _is_side_effect(call: cst.Call, dicts: set[str]) -> bool:
    name = call_name(call)
    if name not in SIDE_EFFECTS or name in _ENQUEUES:
        return False
    receiver = call.func.value if type(call.func) is cst.Attribute else None
    if name == "update" and type(receiver) is cst.Name and receiver.value in dicts:
        return False
    # `metrics.increment(...)` / `statsd.increment(...)` is instrumentation.
    owner = (dotted_name(receiver) or "").lower() if receiver is not None else ""
    return not any(word in owner for word in _INSTRUMENTS)


def _only_deletes(effects: list[cst.Call]) -> bool:
    # A retention or clean-up job (delete what expired, batch by batch) is what jobs are for;
    # deciding what to delete is not the business logic this rule is about.
    return {call_name(n) for n in effects} <= {"delete"}


_SCOPES = frozenset({cst.FunctionDef, cst.ClassDef, cst.Lambda})


def _count(node: cst.CSTNode, dicts: set[str]) -> int:
    """Side effects on the longest path: mutually exclusive `if`/`match` arms count once."""
    if type(node) is cst.If:
        arms = [node.body, *([node.orelse] if node.orelse else [])]
        return _count(node.test, dicts) + max(_count(arm, dicts) for arm in arms)
    if type(node) is cst.Match:
        return _count(node.subject, dicts) + max(
            (_count(case.body, dicts) for case in node.cases), default=0
        )
    if type(node) in _SCOPES:
        return 0
    own = 1 if type(node) is cst.Call and _is_side_effect(node, dicts) else 0
    return own + sum(_count(child, dicts) for child in iter_children(node))


def _side_effects(node: cst.CSTNode, dicts: set[str]) -> list[cst.Call]:
    return [
        n for n in iter_body_nodes(node) if type(n) is cst.Call and _is_side_effect(n, dicts)
    ]


def _root_name(expr: cst.BaseExpression) -> str | None:
    while isinstance(expr, cst.Attribute | cst.Subscript):
        expr = expr.value
    return expr.value if type(expr) is cst.Name else None


def _is_truthiness(test: cst.BaseExpression) -> bool:
    # `if ids:` / `if not ids:` only checks that there is work; with no `else`, it is the
    # same as a guard clause.
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        test = test.expression
    return type(test) is cst.Name


class BusinessLogicInJob(Rule):
    """Keep jobs thin: a job should call one service, not hold the business logic itself.

    Logic inside a job body can only be exercised by running the job, is hard to reuse from
    a request or a console, and mixes retry concerns with domain rules. The rule flags a job
    body (`perform`, or the task function) that branches on the result of a call and
    performs side effects (updates, saves, mail, notifications, gateway calls) inside the
    branches, or that performs more than three side-effecting calls. Guard clauses that only
    `return`/`raise`, a not-found `try/except` and a single service call with a failure check
    are fine. Enqueueing another job is orchestration, not a side effect here (a dispatcher
    whose `match` or `if` arms each enqueue one job is thin); mutually exclusive arms count
    once, `.update()` on a local dict and `metrics.increment(...)` are no side effects, and a
    job whose only writes are deletes is a clean-up job, not business logic.
    """

    CODE = "JK201"
    NAME = "business-logic-in-job"
    MESSAGE = "job `{name}` holds business logic ({why}); move it into a service the job calls"
    VALID = (
        """\
from celery import shared_task
from billing.services import renew_subscription

@shared_task
def renew(subscription_id):
    result = renew_subscription(subscription_id)
    if result.failure:
        raise result.error
""",
        """\
import jobkit
from shop.models import Order

class ShipJob(jobkit.Job):
    def perform(self, order_id):
        order = Order.objects.filter(id=order_id).first()
        if order is None:
            return
        ship_order(order)
""",
        # A dispatcher: each arm enqueues one job.
        """\
from celery import shared_task
from hooks import tasks

@shared_task
def dispatch(event, object_id):
    match event:
        case "created":
            tasks.on_created.delay(object_id)
        case "updated":
            tasks.on_updated.delay(object_id)
        case "deleted":
            tasks.on_deleted.delay(object_id)
        case _:
            tasks.on_other.delay(event, object_id)
""",
        # Building keyword arguments in a local dict is no side effect.
        """\
from celery import shared_task

@shared_task
def export(export_id, fmt=None):
    kwargs = {"export_id": export_id}
    if fmt is not None:
        kwargs.update(fmt=fmt)
    kwargs.update(compress=True)
    kwargs.update(notify=False)
    run_export(**kwargs)
""",
        # A clean-up job that deletes batch by batch and re-enqueues itself until done.
        """\
from celery import shared_task
from shop.models import Event

@shared_task
def purge_events():
    ids = list(Event.objects.filter(expired=True).values_list("pk", flat=True)[:500])
    if ids:
        Event.objects.filter(pk__in=ids).delete()
        purge_events.delay()
""",
    )
    INVALID = (
        """\
from celery import shared_task
from billing import gateway
from billing.models import Subscription

@shared_task
def renew(subscription_id):
    subscription = Subscription.objects.get(id=subscription_id)
    response = gateway.charge(subscription.customer_id, subscription.amount)
    if response.ok:
        subscription.status = "active"
        subscription.save()
    else:
        subscription.update(status="past_due")
        mailer.send(subscription.customer_email, "payment failed")
""",
        """\
import dramatiq

@dramatiq.actor
def onboard(user_id):
    accounts.create(user_id)
    billing.create(user_id)
    mailer.send(user_id)
    crm.publish(user_id)
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag job bodies with branchy side effects or too many side effects."""
        for job in facts.jobs:
            for body in job.bodies:
                why = self._why(body, job.body_nodes(body))
                if why:
                    yield Violation(
                        job.node, message=self.MESSAGE.format(name=job.node.name.value, why=why)
                    )
                    break

    @staticmethod
    def _why(body: cst.FunctionDef, nodes: list[cst.CSTNode]) -> str | None:
        dicts = _local_dicts(nodes)
        effects = [n for n in nodes if type(n) is cst.Call and _is_side_effect(n, dicts)]
        if _only_deletes(effects):
            return None
        # The longest path holds at most every side effect of the body: counting it (a walk
        # of its own) can only find too many when there are.
        count = _count(body.body, dicts) if len(effects) > _MAX_SIDE_EFFECTS else 0
        if count > _MAX_SIDE_EFFECTS:
            return f"{count} side-effecting calls"
        call_results = {
            t.target.value for n in nodes if type(n) is cst.Assign
            and isinstance(n.value, cst.Call | cst.Await) for t in n.targets
            if type(t.target) is cst.Name
        }
        for node in nodes:
            if type(node) is not cst.If:
                continue
            if node.orelse is None and _is_truthiness(node.test):
                continue
            test_nodes = [node.test, *iter_body_nodes(node.test)]
            on_call = any(type(n) is cst.Call for n in test_nodes) or any(
                _root_name(n) in call_results for n in test_nodes
                if isinstance(n, cst.Name | cst.Attribute)
            )
            branches = [node.body, *([node.orelse] if node.orelse else [])]
            if on_call and any(_side_effects(b, dicts) for b in branches):
                return "side effects in branches on a call's result"
        return None
