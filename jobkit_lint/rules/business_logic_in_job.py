"""JK201: a job body that holds business logic instead of delegating to a service."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from jobkit_lint.rule import FileFacts, Rule, Violation, call_name, iter_body_nodes

SIDE_EFFECTS = frozenset({
    "save", "update", "delete", "create", "bulk_create", "bulk_update", "update_or_create",
    "send", "send_mail", "send_email", "send_message", "deliver", "notify", "publish",
    "charge", "refund", "capture", "post", "put", "patch", "commit", "execute", "increment",
    "decrement", "delay", "apply_async", "perform_async", "enqueue", "write",
})
_MAX_SIDE_EFFECTS = 3


def _side_effects(node: cst.CSTNode) -> list[cst.Call]:
    return [
        n for n in iter_body_nodes(node)
        if isinstance(n, cst.Call) and call_name(n) in SIDE_EFFECTS
    ]


def _root_name(expr: cst.BaseExpression) -> str | None:
    while isinstance(expr, cst.Attribute | cst.Subscript):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


class BusinessLogicInJob(Rule):
    """Keep jobs thin: a job should call one service, not hold the business logic itself.

    Logic inside a job body can only be exercised by running the job, is hard to reuse from
    a request or a console, and mixes retry concerns with domain rules. The rule flags a job
    body (`perform`, or the task function) that branches on the result of a call and
    performs side effects (updates, saves, mail, notifications, gateway calls) inside the
    branches, or that performs more than three side-effecting calls. Guard clauses that only
    `return`/`raise`, a not-found `try/except` and a single service call with a failure check
    are fine.
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
                why = self._why(job.body_nodes(body))
                if why:
                    yield Violation(
                        job.node, message=self.MESSAGE.format(name=job.node.name.value, why=why)
                    )
                    break

    @staticmethod
    def _why(nodes: list[cst.CSTNode]) -> str | None:
        count = sum(1 for n in nodes if isinstance(n, cst.Call) and call_name(n) in SIDE_EFFECTS)
        if count > _MAX_SIDE_EFFECTS:
            return f"{count} side-effecting calls"
        call_results = {
            t.target.value for n in nodes if isinstance(n, cst.Assign)
            and isinstance(n.value, cst.Call | cst.Await) for t in n.targets
            if isinstance(t.target, cst.Name)
        }
        for node in nodes:
            if not isinstance(node, cst.If):
                continue
            test_nodes = [node.test, *iter_body_nodes(node.test)]
            on_call = any(isinstance(n, cst.Call) for n in test_nodes) or any(
                _root_name(n) in call_results for n in test_nodes
                if isinstance(n, cst.Name | cst.Attribute)
            )
            branches = [node.body, *([node.orelse] if node.orelse else [])]
            if on_call and any(_side_effects(b) for b in branches):
                return "side effects in branches on a call's result"
        return None
