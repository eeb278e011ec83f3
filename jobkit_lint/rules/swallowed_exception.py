"""JK301: a broad `except` in a job body that neither re-raises nor raises."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from jobkit_lint.rule import FileFacts, Rule, Violation, dotted_name, iter_body_nodes

_BROAD = frozenset({"Exception", "BaseException"})


def _is_broad(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
    if handler.type is None:
        return True
    kinds = (
        [e.value for e in handler.type.elements]
        if isinstance(handler.type, cst.Tuple) else [handler.type]
    )
    return any((dotted_name(k) or "").rsplit(".", 1)[-1] in _BROAD for k in kinds)


class SwallowedException(Rule):
    """Don't swallow every exception in a job: the failure then never retries.

    Job runners retry a job when it raises. A bare `except:`, `except Exception:` or
    `except BaseException:` that logs and returns turns every failure — a timeout, a bug, a
    lost connection — into a silent success. Catch the specific exception you expect, or
    re-raise after logging.
    """

    CODE = "JK301"
    NAME = "swallowed-exception"
    MESSAGE = "broad `except` in job `{name}` swallows the error, so the job never retries"
    VALID = (
        """\
from celery import shared_task

@shared_task
def sync(order_id):
    try:
        order = Order.objects.get(id=order_id)
    except Order.DoesNotExist:
        return
    try:
        push(order.id)
    except Exception:
        logger.exception("push failed")
        raise
""",
    )
    INVALID = (
        """\
from celery import shared_task

@shared_task
def sync(order_id):
    try:
        push(order_id)
    except Exception as error:
        logger.warning("push failed: %s", error)
""",
        """\
import jobkit

class SyncJob(jobkit.Job):
    def perform(self, order_id):
        try:
            push(order_id)
        except:
            pass
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag broad handlers without a `raise` inside job bodies."""
        for job in facts.jobs:
            for body in job.bodies:
                for node in job.body_nodes(body):
                    if not isinstance(node, cst.ExceptHandler | cst.ExceptStarHandler):
                        continue
                    raises = any(isinstance(n, cst.Raise) for n in iter_body_nodes(node.body))
                    if _is_broad(node) and not raises:
                        yield Violation(
                            node, message=self.MESSAGE.format(name=job.node.name.value)
                        )
