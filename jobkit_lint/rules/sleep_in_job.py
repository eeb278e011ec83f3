"""JK302: `time.sleep` inside a job body."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from jobkit_lint.rule import FileFacts, Rule, Violation, is_async_job, job_code

_SLEEPS = frozenset({"time.sleep"})
# What each framework offers instead of waiting in the worker: a later run of the job.
_ADVICE = {
    "jobkit": "raise and let `retry_in` schedule the retry, or enqueue with `perform_in`",
    "celery": "use `self.retry(countdown=...)` or enqueue with `apply_async(countdown=...)`",
    "rq": "raise and let `Retry(max=..., interval=...)` schedule it, or use `enqueue_in`",
    "dramatiq": "raise and let the Retries middleware back off, or send with `delay=`",
    "huey": "raise and let `retries=`/`retry_delay=` schedule it, or use `schedule(delay=)`",
    "arq": "raise `Retry(defer=...)` instead",
}
_DEFAULT_ADVICE = "schedule a later run of the job instead"


class SleepInJob(Rule):
    """Don't `time.sleep` in a job: schedule the retry or the next step instead.

    A sleeping job holds its worker thread (or process) for the whole wait, so a handful of
    jobs waiting on a slow partner starve every other queue, and a deploy or a crash during
    the sleep loses the wait. Raise and let the framework retry with a delay (jobkit
    `retry_in`, Celery `self.retry(countdown=...)`, RQ `Retry(interval=...)`), or enqueue the
    follow-up with a delay (`perform_in`, `apply_async(countdown=...)`, `enqueue_in`).
    `asyncio.sleep` in an async job is not flagged: it yields the event loop, it does not
    hold a thread; `time.sleep` in an async job is JK304's, which reports it as stalling the
    loop. Functions of the same module that the job calls by name, and a job class's
    methods called as `self.name(...)`, are checked too (one level deep); helpers imported
    from elsewhere are not seen.
    """

    CODE = "JK302"
    NAME = "sleep-in-job"
    MESSAGE = "`{call}` in {where} holds a worker while it waits; {advice}"
    VALID = (
        """\
import jobkit

class PollJob(jobkit.Job):
    @classmethod
    def retry_in(cls, count, exc):
        return 30 * (count + 1)

    def perform(self, export_id):
        if not export_ready(export_id):
            raise NotReady(export_id)
""",
        """\
import time

def wait_for_redis(client):
    while not client.ping():
        time.sleep(1)
""",
    )
    INVALID = (
        """\
import time
from celery import shared_task

@shared_task
def poll(export_id):
    while not export_ready(export_id):
        time.sleep(30)
""",
        """\
from time import sleep
import jobkit

class SyncJob(jobkit.Job):
    def perform(self, account_id):
        for attempt in range(5):
            try:
                return push(account_id)
            except TimeoutError:
                sleep(2 ** attempt)
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag calls that resolve to `time.sleep` in job bodies and their helpers."""
        seen: set[int] = set()
        for job in facts.jobs:
            if is_async_job(job):
                # In a coroutine job the sleep stalls the event loop: JK304 reports it.
                continue
            advice = _ADVICE.get(job.framework, _DEFAULT_ADVICE)
            for _function, nodes, helper in job_code(facts, job):
                for node in nodes:
                    if type(node) is not cst.Call or id(node) in seen:
                        continue
                    if facts.resolver.qualify(node.func) in _SLEEPS:
                        seen.add(id(node))
                        where = f"`{helper}` (called by job `{job.node.name.value}`)" if helper \
                            else f"job `{job.node.name.value}`"
                        label = facts.module.code_for_node(node.func)
                        yield Violation(node, message=self.MESSAGE.format(
                            call=label, where=where, advice=advice,
                        ))
