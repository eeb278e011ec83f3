"""JK301: a broad `except` in a job body that neither re-raises nor raises."""

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
)

_BROAD = frozenset({"Exception", "BaseException"})
# A handler that records the failure where someone will see it has handled it: a status
# field, a failure record, a message to the user.
_RECORDING_ATTRS = frozenset({"status", "state", "error", "errors", "failure", "failed",
                              "failure_reason", "reason", "message"})
_WRITES = frozenset({"save", "update", "create", "bulk_create", "bulk_update",
                     "update_or_create", "get_or_create"})
_RECORDING_WORDS = ("fail", "alert", "notify", "status")
_LOGGERS = frozenset({"log", "logger", "logging", "LOG", "LOGGER", "_log", "_logger"})


def _is_broad(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
    if handler.type is None:
        return True
    kinds = (
        [e.value for e in handler.type.elements]
        if type(handler.type) is cst.Tuple else [handler.type]
    )
    return any((dotted_name(k) or "").rsplit(".", 1)[-1] in _BROAD for k in kinds)


def _records_failure(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
    target = handler.name.name if handler.name else None
    bound = target.value if type(target) is cst.Name else None
    for node in iter_body_nodes(handler.body):
        if type(node) is cst.Raise:
            return True
        if type(node) is cst.Return and node.value is not None and bound and any(
            type(n) is cst.Name and n.value == bound
            for n in (node.value, *iter_body_nodes(node.value))
        ):
            return True  # `return {"error": str(e)}`: the job's result reports the failure
        if isinstance(node, cst.Assign | cst.AugAssign):
            targets = (
                [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            )
            if any(type(t) is cst.Attribute and t.attr.value in _RECORDING_ATTRS
                   for t in targets):
                return True
        if type(node) is not cst.Call:
            continue
        name = call_name(node)
        receiver = dotted_name(node.func.value) if type(node.func) is cst.Attribute else None
        if name == "retry" or name in _WRITES:
            return True  # Celery's `task.retry(exc=e)` raises Retry itself.
        if (receiver or "").rsplit(".", 1)[-1] in _LOGGERS:
            continue  # `logger.error(...)` only logs
        lowered = name.lower()
        # `mark_failed(...)`, `log_generic_alert(...)`, `notify_admins(...)` record it;
        # `log_error(...)` / `capture_exception(...)` only log.
        if any(word in lowered for word in _RECORDING_WORDS) or (
            "error" in lowered and not lowered.startswith(("log", "capture", "print"))
        ):
            return True
    return False


# Exact-type screens before the isinstance() that narrows: most nodes are neither, and a
# failing isinstance() against libcst classes is slow (see jobkit_lint.names.dotted_name).
_LOOPS = frozenset({cst.For, cst.While})
_HANDLERS = frozenset({cst.ExceptHandler, cst.ExceptStarHandler})


def _in_loops(nodes: list[cst.CSTNode]) -> set[int]:
    # `for item in batch: try: ... except Exception: log; continue` isolates one item's
    # failure from the rest of the batch on purpose; retrying the whole batch is not better.
    inside: set[int] = set()
    for node in nodes:
        if type(node) in _LOOPS and isinstance(node, cst.For | cst.While):
            inside.update(id(n) for n in iter_body_nodes(node.body))
    return inside


class SwallowedException(Rule):
    """Don't swallow every exception in a job: the failure then never retries.

    Job runners retry a job when it raises. A bare `except:`, `except Exception:` or
    `except BaseException:` that logs and returns turns every failure — a timeout, a bug, a
    lost connection — into a silent success. Catch the specific exception you expect, or
    re-raise after logging.

    Not flagged: handlers that retry (`self.retry(exc=e)`), that record the failure (set a
    `status`/`error` field, save a record, call a `set_status`/`mark_failed`/`notify_*`/
    `*_error` helper, return a result built from the exception), and handlers inside a loop,
    which isolate one item of a batch from the others.
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
        """\
from celery import shared_task

@shared_task(bind=True)
def export(self, export_id):
    try:
        build_export(export_id)
    except Exception as error:
        record = Export.objects.get(id=export_id)
        record.status = "failed"
        record.reason = str(error)
        record.save()
""",
        """\
from celery import shared_task

@shared_task(bind=True, max_retries=3)
def push(self, order_id):
    try:
        gateway.push(order_id)
    except Exception as error:
        self.retry(exc=error)
""",
        """\
from celery import shared_task

@shared_task
def reindex_all(user_ids):
    for user_id in user_ids:
        try:
            reindex(user_id)
        except Exception:
            logger.exception("reindex failed for %s", user_id)
""",
        # `invoke.task` is not a job.
        """\
from invoke import task

@task
def build(c):
    try:
        c.run("make")
    except Exception:
        print("build failed")
""",
        # The job's result reports the failure to whoever waits for it.
        """\
from rq.decorators import job

@job("schemas")
def get_schema(data_source_id):
    try:
        return {"schema": load_schema(data_source_id)}
    except Exception as error:
        return {"error": {"message": str(error)}}
""",
        # The job's own record is marked failed: the user sees it.
        """\
from celery import shared_task

@shared_task
def start_import(job_id):
    job = ImportJob.objects.get(id=job_id)
    try:
        run_import(job)
    except Exception:
        logger.exception("import %s failed", job_id)
        job.set_status("failed")
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
        # A Celery class-based task: its `run` method is the body.
        """\
from celery import Task

class SyncTask(Task):
    name = "shop.sync"

    def run(self, order_id):
        try:
            push(order_id)
        except Exception:
            logger.exception("push failed")
""",
        # A decorator alias.
        """\
from celery import shared_task

retrying_task = shared_task(autoretry_for=(IOError,), max_retries=3)

@retrying_task
def sync(order_id):
    try:
        push(order_id)
    except Exception:
        logger.exception("push failed")
""",
        # RQ / django-rq `@job` functions.
        """\
from django_rq import job

@job("default")
def sync(order_id):
    try:
        push(order_id)
    except Exception:
        logger.exception("push failed")
""",
        # A `partial` of an RQ `job` decorator subclass (redash's idiom).
        """\
from functools import partial
from rq.decorators import job as rq_job

class RecordingJob(rq_job):
    queue_class = RecordingQueue

job = partial(RecordingJob, connection=redis)

@job("emails")
def send_mail(to, subject):
    try:
        mail.send(Message(recipients=to, subject=subject))
    except Exception:
        logger.exception("Failed sending message")
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag broad handlers without a `raise` inside job bodies."""
        for job in facts.jobs:
            for body in job.bodies:
                nodes = job.body_nodes(body)
                in_loops = _in_loops(nodes)
                for node in nodes:
                    if type(node) not in _HANDLERS or not isinstance(
                            node, cst.ExceptHandler | cst.ExceptStarHandler):
                        continue
                    if id(node) in in_loops:
                        continue
                    if _is_broad(node) and not _records_failure(node):
                        yield Violation(
                            node, message=self.MESSAGE.format(name=job.node.name.value)
                        )
