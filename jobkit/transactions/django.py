"""``set(after_commit=True | "alias")`` for Django: the push is a ``transaction.on_commit``
callback, so Django's own bookkeeping drops it with a rolled-back savepoint or transaction
and runs it at once outside ``atomic()``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import aftercommit
from ..aftercommit import Item
from ..errors import JobDefinitionError
from ..prepared import PreparedRoute

if TYPE_CHECKING:
    from ..client import Client, Ready


def database_alias(owner: str, option: str, value: Any) -> str:
    """The Django database alias ``value`` (True: ``"default"``) names, checked."""
    try:
        from django.conf import settings
        from django.db import connections
    except ImportError:
        raise JobDefinitionError(
            f"{owner}.set(): {option}={value!r} names a Django database, but Django is not "
            "installed (pip install 'jobkit[django]'); for SQLAlchemy pass the session"
        ) from None
    if not settings.configured:
        raise JobDefinitionError(
            f"{owner}.set(): {option}={value!r} names a Django database, but Django's "
            "settings are not configured (DJANGO_SETTINGS_MODULE)"
        )
    alias = "default" if value is True else str(value)
    if alias not in connections.settings:
        known = ", ".join(sorted(connections.settings))
        raise JobDefinitionError(
            f"{owner}.set(): {option}={value!r}: no Django database {alias!r} "
            f"in settings.DATABASES (databases: {known})"
        )
    return alias


class _Push:
    """The on_commit callback: pushes its jobs."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items

    def __call__(self) -> None:
        aftercommit.deliver(self.items)


def _pending() -> Iterator[Item]:
    from django.db import connections

    # Django's connections are per thread: these are this thread's open transactions.
    for conn in connections.all(initialized_only=True):
        for _, func, _ in list(conn.run_on_commit):
            if isinstance(func, _Push):
                yield from func.items


class DjangoAfterCommit(PreparedRoute):
    """The route of ``set(after_commit=True | alias)``."""

    def __init__(self, owner: str, option: str, value: Any) -> None:
        self.using = database_alias(owner, option, value)
        aftercommit.add_pending_source(_pending)

    def send(self, client: Client, ready: list[Ready]) -> None:
        from django.db import transaction

        transaction.on_commit(_Push([(client, r) for r in ready]), using=self.using)
