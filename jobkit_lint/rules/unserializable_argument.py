"""JK102: a job argument that is not JSON-native."""

from __future__ import annotations

from collections.abc import Iterator

from jobkit_lint.rule import FileFacts, Rule, Violation, describe_unserializable, iter_arg_values


class UnserializableArgument(Rule):
    """Job arguments must be JSON-native: strings, numbers, booleans, None, lists and dicts.

    Job payloads are JSON. A `datetime`, `Decimal`, `UUID`, set, bytes value, lambda,
    function or an instance of an arbitrary class either fails at enqueue time or arrives
    as something else (a string, a list). Convert explicitly: `when.isoformat()`,
    `str(amount)`, `str(uuid)`, `sorted(tags)`. Scheduling arguments (`perform_in`'s delay,
    RQ's `enqueue_in` timedelta, `countdown=`/`eta=`) are not job arguments and are not checked.

    The check follows each framework's codec: Celery's JSON (kombu) also carries datetimes,
    Decimals, UUIDs and bytes; RQ, huey and arq pickle by default, and so does Celery when
    the project's `task_serializer` / `CELERY_TASK_SERIALIZER` names a pickle serializer; there
    only a lambda is reported. RQ counts as JSON once `rq.serializers.JSONSerializer` is
    imported anywhere in the linted tree.
    """

    CODE = "JK102"
    NAME = "unserializable-argument"
    MESSAGE = "{value} is not JSON-native; convert it (isoformat(), str(), list()) first"
    VALID = (
        """\
from datetime import datetime, timedelta
from app.jobs import ReportJob

ReportJob.perform_in(timedelta(minutes=5), datetime.now().isoformat(), ["a", "b"])
""",
        """\
from datetime import datetime
from app.tasks import cleanup

cleanup.apply_async(args=[1], eta=datetime.now())
""",
        # `list(ids)` of a set is the fix, not a set.
        """\
from app.tasks import cleanup

def purge(rows):
    ids = set()
    for row in rows:
        ids.add(row.id)
    cleanup.delay(list(ids), sorted(ids))
""",
        # Celery's JSON (kombu) round-trips datetimes, Decimals and UUIDs.
        """\
from datetime import datetime
from decimal import Decimal
from app.tasks import cleanup

cleanup.delay(datetime.now(), Decimal("1.5"))
""",
        # A pickle `task_serializer` (here in the same module; usually settings.py).
        """\
from app.tasks import cleanup

CELERY_TASK_SERIALIZER = "signed-pickle"

cleanup.delay({"a", "b"})
""",
        # RQ, huey and arq pickle by default.
        """\
from datetime import datetime
from rq import Queue
from app.work import resize

Queue().enqueue(resize, datetime.now(), {"tags": {"a"}})
""",
    )
    INVALID = (
        """\
from datetime import datetime
from app.jobs import CleanupJob

CleanupJob.perform_async(datetime.now())
""",
        """\
from app.tasks import cleanup

def purge(rows):
    cleanup.delay({row.id for row in rows})
""",
        """\
from decimal import Decimal
from app.jobs import ChargeJob

ChargeJob.perform_async({"amount": Decimal("9.99"), "tags": {"vip"}})
""",
        """\
from rq import Queue
from app.work import resize

queue = Queue()
queue.enqueue(resize, b"raw-bytes", lambda x: x)
""",
        # Django 6 tasks need JSON arguments.
        """\
from datetime import datetime
from django.tasks import task

@task
def report(day):
    ...

report.enqueue(datetime.now())
""",
    )

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Flag non-JSON values anywhere inside each enqueue's job arguments."""
        for enqueue in facts.enqueues:
            payload = facts.index.payload(enqueue.framework)
            for arg in enqueue.args:
                values = iter_arg_values(
                    arg, through_conversions=False, scope=enqueue.scope, before=enqueue.seq
                )
                for value in values:
                    description = describe_unserializable(
                        facts, enqueue.scope, value, before=enqueue.seq, payload=payload
                    )
                    if description:
                        yield Violation(
                            value, enqueue.call, self.MESSAGE.format(value=f"`{description}`")
                        )
