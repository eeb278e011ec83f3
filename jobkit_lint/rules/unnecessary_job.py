"""JK202: a job that only looks one record up and writes it."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from jobkit_lint.rule import FileFacts, Rule, Violation, call_name

_LOOKUPS = frozenset({
    "get", "find", "find_by", "filter", "filter_by", "get_by_id", "get_or_404", "first", "one",
    "get_object_or_404", "query",
})
# Look-ups that return one record; `filter`/`filter_by` count only by primary key.
_ONE_RECORD = frozenset({
    "get", "find", "get_by_id", "get_or_404", "first", "one", "one_or_none",
    "get_object_or_404",
})
_PRIMARY_KEYS = frozenset({"id", "pk", "id__exact", "pk__exact"})
_WRITES = frozenset({"update", "save", "update_attributes", "update_column", "update_columns"})
_MAX_STATEMENTS = 4


def _statements(body: cst.FunctionDef) -> list[cst.BaseStatement]:
    statements = list(body.body.body) if type(body.body) is cst.IndentedBlock else []
    first = statements[0] if statements else None
    if (
        type(first) is cst.SimpleStatementLine
        and type(first.body[0]) is cst.Expr
        and isinstance(first.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    ):
        statements = statements[1:]  # the docstring
    return statements


class UnnecessaryJob(Rule):
    """A job that only looks up one record and updates it should be an inline write.

    Enqueueing costs a round trip to Redis, a payload, a worker slot and a window in which
    the change is not yet visible. A single-row update is as fast as the enqueue itself, so
    do it synchronously where the job is enqueued (`User.objects.filter(id=user_id).update(
    name=name)`) and keep jobs for slow, retryable work.
    """

    CODE = "JK202"
    NAME = "unnecessary-job"
    MESSAGE = "job `{name}` only looks up one record and writes it; do the write inline"
    VALID = (
        """\
from celery import shared_task

@shared_task
def sync_user(user_id):
    user = User.find(user_id)
    crm.push(user.id, user.email)
""",
        # A table-wide update (a deferred data migration) is slow work: a job is right.
        """\
from celery import shared_task
from shop.models import Channel

@shared_task
def backfill_completion_delay():
    Channel.objects.filter(completion_delay__isnull=True).update(completion_delay=0)
""",
    )
    INVALID = (
        """\
from celery import shared_task

@shared_task
def rename(user_id, name):
    User.find(user_id).update(name=name)
""",
        """\
import jobkit
from accounts.models import User

class RenameJob(jobkit.Job):
    def perform(self, user_id, name):
        \"\"\"Rename a user.\"\"\"
        user = User.objects.get(id=user_id)
        user.name = name
        user.save()
""",
        """\
from celery import shared_task
from accounts.models import User

@shared_task
def deactivate(user_id):
    User.objects.filter(pk=user_id).update(active=False)
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag job bodies made only of one look-up and writes to it."""
        for job in facts.jobs:
            if job.bodies and all(self._trivial(b, job.body_nodes(b)) for b in job.bodies):
                yield Violation(job.node, message=self.MESSAGE.format(name=job.node.name.value))

    @staticmethod
    def _trivial(body: cst.FunctionDef, nodes: list[cst.CSTNode]) -> bool:
        statements = _statements(body)
        if not 1 <= len(statements) <= _MAX_STATEMENTS or not all(
            type(s) is cst.SimpleStatementLine for s in statements
        ):
            return False
        calls = [n for n in nodes if type(n) is cst.Call]
        names = [call_name(c) for c in calls]
        lookups = sum(1 for n in names if n in _LOOKUPS)
        writes = sum(1 for n in names if n in _WRITES)
        return (
            1 <= lookups <= 2 and 1 <= writes <= 2 and lookups + writes == len(names)
            and any(_one_record(c) for c in calls)
        )


def _one_record(call: cst.Call) -> bool:
    # A table-wide `filter(flag=True).update(...)` (a deferred data migration) is slow work
    # that belongs in a job; only a look-up of one record makes the job unnecessary.
    name = call_name(call)
    if name in _ONE_RECORD:
        return True
    keywords = {a.keyword.value for a in call.args if a.keyword is not None}
    return name in {"filter", "filter_by"} and bool(keywords) and keywords <= _PRIMARY_KEYS
