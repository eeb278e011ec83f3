"""``set(after_commit=session_or_connection)`` for SQLAlchemy, sync and async.

A session's jobs belong to its innermost transaction (a savepoint or the root): a released
savepoint hands them to its parent, a rolled-back one drops them, the root's commit pushes
them. ``after_commit`` fires for the root and for savepoints alike, with the committing
transaction still current; ``after_transaction_end`` then says it is over either way.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

from .. import aftercommit
from ..aftercommit import Item
from ..prepared import PreparedRoute

if TYPE_CHECKING:
    from ..client import Client, Ready

_lock = threading.Lock()


class _SessionJobs:
    """The jobs of one session's open transactions."""

    def __init__(self, session: Session) -> None:
        # Weak: the tracker lives in a WeakKeyDictionary keyed by this very session.
        self._session = weakref.ref(session)
        self.by_transaction: dict[SessionTransaction, list[Item]] = {}
        self.committed: set[SessionTransaction] = set()
        event.listen(session, "after_commit", self._after_commit)
        event.listen(session, "after_transaction_end", self._after_end)

    @property
    def session(self) -> Session:
        session = self._session()
        assert session is not None
        return session

    def items(self) -> Iterator[Item]:
        for items in list(self.by_transaction.values()):
            yield from items

    def add(self, items: Sequence[Item]) -> None:
        session = self.session
        current = session.get_nested_transaction() or session.get_transaction()
        assert current is not None
        self.by_transaction.setdefault(current, []).extend(items)

    def _after_commit(self, session: Session) -> None:
        current = session.get_nested_transaction() or session.get_transaction()
        if current is not None:
            self.committed.add(current)

    def _after_end(self, session: Session, transaction: SessionTransaction) -> None:
        committed = transaction in self.committed
        self.committed.discard(transaction)
        items = self.by_transaction.pop(transaction, None)
        if not items:
            return
        parent = transaction.parent
        if parent is None:
            if committed:
                aftercommit.deliver(items)
        elif committed or not transaction.nested:
            # A released savepoint (or an inner non-savepoint block): the parent decides.
            self.by_transaction.setdefault(parent, []).extend(items)
        # else: a rolled-back savepoint; its jobs go with it.


class _ConnectionJobs:
    """The jobs of one Core connection's transaction, one list per open savepoint.

    Core has no event after a commit, only before it: the hook commits the DBAPI
    connection itself, pushes, and lets SQLAlchemy's own COMMIT find nothing left to do,
    so no job is pushed for a transaction that failed to commit.
    """

    def __init__(self, conn: Connection) -> None:
        # One frame for the root and one per savepoint already open when we start watching.
        self.frames: list[list[Item]] = [[] for _ in range(1 + _savepoint_depth(conn))]
        hooks: list[tuple[str, Callable[..., None]]] = [
            ("commit", self._commit), ("rollback", self._rollback),
            ("savepoint", self._savepoint), ("rollback_savepoint", self._rollback_savepoint),
            ("release_savepoint", self._release_savepoint),
        ]
        for name, fn in hooks:
            event.listen(conn, name, fn)

    def items(self) -> Iterator[Item]:
        for frame in list(self.frames):
            yield from frame

    def add(self, items: Sequence[Item]) -> None:
        self.frames[-1].extend(items)

    def _commit(self, conn: Connection) -> None:
        items = [item for frame in self.frames for item in frame]
        self.frames = [[]]
        if items:
            conn.engine.dialect.do_commit(conn.connection)
            aftercommit.deliver(items)

    def _rollback(self, conn: Connection) -> None:
        self.frames = [[]]

    def _savepoint(self, conn: Connection, name: str | None) -> None:
        self.frames.append([])

    def _rollback_savepoint(self, conn: Connection, name: str, context: Any) -> None:
        if len(self.frames) > 1:
            self.frames.pop()

    def _release_savepoint(self, conn: Connection, name: str, context: Any) -> None:
        if len(self.frames) > 1:
            top = self.frames.pop()
            self.frames[-1].extend(top)


def _savepoint_depth(conn: Connection) -> int:
    depth, nested = 0, conn.get_nested_transaction()
    while nested is not None:
        depth += 1
        # SQLAlchemy keeps the chain of open savepoints only privately.
        nested = getattr(nested, "_previous_nested", None)
    return depth


_sessions: weakref.WeakKeyDictionary[Session, _SessionJobs] = weakref.WeakKeyDictionary()
_connections: weakref.WeakKeyDictionary[Connection, _ConnectionJobs] = (
    weakref.WeakKeyDictionary()
)


def _pending() -> Iterator[Item]:
    with _lock:
        trackers: list[_SessionJobs | _ConnectionJobs] = [
            *_sessions.values(), *_connections.values()
        ]
    for tracker in trackers:
        yield from tracker.items()


aftercommit.add_pending_source(_pending)


def _sync(target: Any, kind: str) -> Session | Connection:
    if kind == "async_session":
        return target.sync_session  # type: ignore[no-any-return]
    if kind == "async_connection":
        conn = target.sync_connection
        if conn is None:
            from ..errors import JobDefinitionError

            raise JobDefinitionError(
                "after_commit=AsyncConnection that is not connected yet; "
                "enqueue inside `async with engine.connect() as conn:`"
            )
        return conn  # type: ignore[no-any-return]
    return target  # type: ignore[no-any-return]


class AfterCommit(PreparedRoute):
    """The route of ``set(after_commit=...)`` for one SQLAlchemy session or connection."""

    def __init__(self, target: Any, kind: str) -> None:
        self.target = _sync(target, kind)

    def send(self, client: Client, ready: list[Ready]) -> None:
        items = [(client, r) for r in ready]
        target = self.target
        if not target.in_transaction():
            aftercommit.deliver(items)
            return
        tracker: _SessionJobs | _ConnectionJobs
        with _lock:
            if isinstance(target, Session):
                tracker = _sessions.get(target) or _sessions.setdefault(
                    target, _SessionJobs(target))
            else:
                tracker = _connections.get(target) or _connections.setdefault(
                    target, _ConnectionJobs(target))
        tracker.add(items)
