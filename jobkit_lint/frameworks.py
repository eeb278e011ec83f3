"""Recognising enqueue call sites of each job framework and picking out the job arguments.

Scheduling arguments (`perform_in`'s delay, RQ's `enqueue_in` timedelta, `countdown=`, `eta=`)
and framework options are deliberately left out: only values that reach the job are returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from jobkit_lint.index import ProjectIndex
from jobkit_lint.names import NameResolver

__all__ = ["EnqueueSite", "recognize_enqueue"]

_RQ_OPTIONS = frozenset({
    "job_timeout", "result_ttl", "ttl", "failure_ttl", "description", "depends_on", "job_id",
    "at_front", "meta", "retry", "on_success", "on_failure", "on_stopped", "timeout",
    "job_class", "connection", "pipeline", "group_id",
})
_JOBKIT_SYNC = ("perform_async", "perform_in", "perform_at", "perform_bulk")
# The awaitable twins (`await Job.aperform_async(...)`) take the same arguments.
_JOBKIT = frozenset({*_JOBKIT_SYNC, *(f"a{m}" for m in _JOBKIT_SYNC)})
_RQ = frozenset({"enqueue", "enqueue_call", "enqueue_in", "enqueue_at"})
_DJANGO = frozenset({"enqueue", "aenqueue"})
# Every method name recognize_enqueue() answers for: any other attribute call is no enqueue
# (unless it names a huey task), and most calls of a module are such calls.
_METHODS = _JOBKIT | _RQ | _DJANGO | {
    "delay", "delay_on_commit", "apply_async", "apply_async_on_commit", "send_task", "s", "si",
    "signature", "enqueue_job", "send", "send_with_options", "schedule",
}


@dataclass(frozen=True)
class EnqueueSite:
    """A call that hands work to a queue: which framework, which job, which argument values."""

    framework: str
    job: str | None
    args: tuple[cst.BaseExpression, ...]
    # Celery's `delay_on_commit`/`apply_async_on_commit` enqueue after the commit themselves.
    on_commit: bool = False


def _positional(call: cst.Call, start: int = 0) -> list[cst.BaseExpression]:
    return [a.value for a in call.args if a.keyword is None][start:]


def _keywords(call: cst.Call, exclude: frozenset[str] = frozenset()) -> list[cst.BaseExpression]:
    return [a.value for a in call.args if a.keyword is not None and a.keyword.value not in exclude]


def _named(call: cst.Call, *names: tuple[str, int | None]) -> list[cst.BaseExpression]:
    """Values of parameters that may be passed by keyword or at a fixed position."""
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    found: list[cst.BaseExpression] = []
    for name, position in names:
        keyword = [a.value for a in call.args if a.keyword and a.keyword.value == name]
        if keyword:
            found.extend(keyword)
        elif position is not None and position < len(positional):
            found.append(positional[position])
    return found


def _strip_options(receiver: cst.BaseExpression) -> cst.BaseExpression:
    # `MyJob.set(queue="low").perform_async(...)`: the job is the receiver of `.set(...)`.
    while (
        type(receiver) is cst.Call
        and type(receiver.func) is cst.Attribute
        and receiver.func.attr.value in {"set", "options", "using"}
    ):
        receiver = receiver.func.value
    return receiver


def recognize_enqueue(
    call: cst.Call, resolver: NameResolver, index: ProjectIndex
) -> EnqueueSite | None:
    """The enqueue this call performs, or None when it is not an enqueue."""
    func = call.func
    huey = "huey" in index.frameworks
    if type(func) is not cst.Attribute:
        if not huey:
            return None
        job = resolver.qualify(func)
        if index.job_framework(job) == "huey":
            return EnqueueSite("huey", job, tuple(_positional(call) + _keywords(call)))
        return None
    if huey:
        whole = resolver.qualify(func)
        if index.job_framework(whole) == "huey":
            # `tasks.refresh(bookmark_id)`: calling a huey task through its module enqueues it.
            return EnqueueSite("huey", whole, tuple(_positional(call) + _keywords(call)))
    method = func.attr.value
    if method not in _METHODS:
        return None
    receiver = _strip_options(func.value)
    job = resolver.qualify(receiver)
    known = index.job_framework(job)
    if method in _JOBKIT:
        start = 1 if method in {"perform_in", "perform_at", "aperform_in", "aperform_at"} else 0
        return EnqueueSite("jobkit", job, tuple(_positional(call, start) + _keywords(call)))
    if method in {"delay", "delay_on_commit"}:
        args = tuple(_positional(call) + _keywords(call))
        return EnqueueSite(known or "celery", job, args, method == "delay_on_commit")
    if method in {"apply_async", "apply_async_on_commit"}:
        args = tuple(_named(call, ("args", 0), ("kwargs", 1)))
        return EnqueueSite("celery", job, args, method == "apply_async_on_commit")
    if method == "send_task":
        # `app.send_task("billing.charge", args=[...], kwargs={...})`: the job by name.
        first = call.args[0].value if call.args else None
        name = first.evaluated_value if type(first) is cst.SimpleString else None
        args = tuple(_named(call, ("args", 1), ("kwargs", 2)))
        return EnqueueSite("celery", name if isinstance(name, str) else None, args)
    if method in {"s", "si"} and known == "celery":
        return EnqueueSite("celery", job, tuple(_positional(call) + _keywords(call)))
    if method == "signature" and known == "celery":
        return EnqueueSite("celery", job, tuple(_named(call, ("args", 0), ("kwargs", 1))))
    if method in _DJANGO and known == "django":
        # Django 6 tasks: `send_email.enqueue(...)`, `send_email.using(priority=1).enqueue(...)`.
        return EnqueueSite("django", job, tuple(_positional(call) + _keywords(call)))
    if method in _RQ:
        return _rq_site(call, method)
    if method == "enqueue_job":
        return _enqueue_job_site(call)
    if method == "send" and known == "dramatiq":
        return EnqueueSite("dramatiq", job, tuple(_positional(call) + _keywords(call)))
    if method == "send_with_options":
        return EnqueueSite("dramatiq", job, tuple(_named(call, ("args", None), ("kwargs", None))))
    if method == "schedule" and known == "huey":
        return EnqueueSite("huey", job, tuple(_named(call, ("args", 0), ("kwargs", 1))))
    return None


def _enqueue_job_site(call: cst.Call) -> EnqueueSite:
    positional = _positional(call)
    if positional and isinstance(positional[0], cst.SimpleString | cst.ConcatenatedString):
        # arq: `redis.enqueue_job("download", url, _job_id=...)`, the job by name.
        named = [a.value for a in call.args if a.keyword and not a.keyword.value.startswith("_")]
        return EnqueueSite("arq", None, tuple(positional[1:] + named))
    # RQ: `queue.enqueue_job(job)` enqueues a prepared Job; its arguments were checked (or
    # not) where the Job was created.
    return EnqueueSite("rq", None, ())


def _rq_site(call: cst.Call, method: str) -> EnqueueSite | None:
    positional = _positional(call)
    # The first argument is the function (after the schedule for enqueue_in/enqueue_at).
    skip = 2 if method in {"enqueue_in", "enqueue_at"} else 1
    if len(positional) < skip:
        return None
    if method == "enqueue_call":
        args = _named(call, ("args", 1), ("kwargs", 2))
    else:
        args = positional[skip:] + _keywords(call, _RQ_OPTIONS)
    return EnqueueSite("rq", None, tuple(args))
