"""The relay: moves outbox rows to Redis in batches and deletes them.

One batch is one database transaction: take up to ``batch_size`` rows (locked, skipping
rows another relay holds), delete them, push them to Redis in one MULTI, commit. A relay
that dies before the commit leaves its rows in the table, unlocked, and the next batch
pushes them again with the same jids: at most one batch is delivered twice, never one
lost. PostgreSQL and MariaDB lock rows (``FOR UPDATE SKIP LOCKED``), so relays share the
table; SQLite locks the whole file (``BEGIN IMMEDIATE``), so relays on it take turns.
Once a batch is committed, the relay's client middleware ``after_push`` runs for each job
it pushed, as it would after a direct push.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import redis

from ..client import Client
from ..errors import OutboxError
from ..middleware.base import ClientMiddleware
from ..payload import json_loads
from . import schema
from .database import Database

log = logging.getLogger("jobkit.outbox")

T = schema.TABLE
#: (id, queue, payload, run_at, unique_ttl_ms)
Row = tuple[int, str, str, float | None, int | None]
_COLS = "id, queue, payload, run_at, unique_ttl_ms"


class Relay:
    """Moves rows of the outbox at ``database`` into the Redis of ``client``."""

    def __init__(
        self,
        database: Database | str,
        client: Client,
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.5,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise OutboxError(f"batch_size={batch_size!r} must be a positive integer")
        if (isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float)
                or not 0 < poll_interval <= 60):
            raise OutboxError(f"poll_interval={poll_interval!r} must be between 0 and 60 s")
        self.database = Database.from_url(database) if isinstance(database, str) else database
        self.client = client
        self.batch_size = batch_size
        self.poll_interval = float(poll_interval)
        self.relayed = 0
        self.batches = 0
        self._conn: Any = None
        self._listener: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors = _driver_errors(self.database.dialect)
        # Only middleware that overrides after_push: with none, no payload is decoded.
        self._after_push_hooks = [
            mw.after_push for mw in client.settings.client_middleware
            if type(mw).after_push is not ClientMiddleware.after_push
        ]

    # -- one batch -----------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self.database.connect()
        return self._conn

    def relay_batch(self) -> int:
        """Move one batch; the number of rows pushed (0 when the table is empty).

        A client middleware's ``after_push`` that raises (in the plugin's inline mode, a
        job that fails) is raised once the batch is committed and every hook has run;
        :meth:`run` logs it instead and goes on."""
        moved, failures = self._batch()
        if failures:
            raise failures[0][1]
        return moved

    def _batch(self) -> tuple[int, list[tuple[dict[str, Any], Exception]]]:
        """One batch: the rows pushed, and the ``after_push`` hooks that raised."""
        for attempt in range(10):
            conn = self._connection()
            pushed = False
            took: list[str] = []
            try:
                rows = self._take(conn)
                if rows:
                    # Delete before the push: a lock conflict (deadlock) there ends the
                    # transaction while nothing is in Redis yet, so retrying it is free.
                    self._delete(conn, rows)
                    pushed = True
                    took = self._push(rows)
                self._commit(conn)
            except BaseException as e:
                self._rollback(conn)
                if pushed or attempt == 9 or not _is_lock_conflict(e):
                    raise
                log.debug("outbox relay: lock conflict before the push, retrying: %s", e)
                continue
            self.relayed += len(rows)
            self.batches += bool(rows)
            failures = self._after_push(took) if rows and self._after_push_hooks else []
            return len(rows), failures
        raise AssertionError("unreachable")

    def drain(self) -> int:
        """Relay until the table is empty; the number of rows pushed."""
        total = 0
        while True:
            moved = self.relay_batch()
            total += moved
            if moved < self.batch_size:
                return total

    def _take(self, conn: Any) -> list[Row]:
        dialect, n = self.database.dialect, self.batch_size
        cur = conn.cursor()
        try:
            if dialect == "postgresql":
                # Deleting in the taking statement saves a round trip; the delete is undone
                # with the transaction if the push fails or the relay dies before COMMIT.
                cur.execute(f"DELETE FROM {T} WHERE id IN (SELECT id FROM {T} ORDER BY id "
                            f"LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING {_COLS}", (n,))
            elif dialect == "mysql":
                cur.execute(f"SELECT {_COLS} FROM {T} ORDER BY id LIMIT %s "
                            "FOR UPDATE SKIP LOCKED", (n,))
            else:
                cur.execute(f"SELECT 1 FROM {T} LIMIT 1")
                if cur.fetchone() is None:
                    return []
                cur.execute("BEGIN IMMEDIATE")
                cur.execute(f"SELECT {_COLS} FROM {T} ORDER BY id LIMIT ?", (n,))
            rows: list[Row] = [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()
        rows.sort(key=lambda r: r[0])
        return rows

    def _delete(self, conn: Any, rows: Sequence[Row]) -> None:
        if self.database.dialect == "postgresql":
            return
        marks = ", ".join([self.database.mark] * len(rows))
        if self.database.dialect == "mysql":
            # Forced onto the primary key: a table scan (InnoDB's choice on fresh
            # statistics) waits on rows another relay holds, and the two deadlock.
            sql = f"DELETE o FROM {T} o FORCE INDEX (PRIMARY) WHERE o.id IN ({marks})"
        else:
            sql = f"DELETE FROM {T} WHERE id IN ({marks})"
        cur = conn.cursor()
        try:
            cur.execute(sql, [r[0] for r in rows])
        finally:
            cur.close()

    def _commit(self, conn: Any) -> None:
        if self.database.dialect == "sqlite":
            if conn.in_transaction:
                conn.execute("COMMIT")
        else:
            conn.commit()

    def _rollback(self, conn: Any) -> None:
        try:
            if self.database.dialect == "sqlite":
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            else:
                conn.rollback()
        except Exception:
            # The connection is broken: drop it, the next batch reconnects.
            self._close_connection()

    def _push(self, rows: Sequence[Row]) -> list[str]:
        """All of a batch in one MULTI: it lands in Redis whole or not at all. Returns the
        payloads Redis took, oldest first (a unique job whose lock is taken is not one)."""
        client, keys = self.client, self.client.keys
        now = client.settings.clock()
        # The payload is JSON we wrote without enqueued_at: append it, no decode needed.
        stamp = f',"enqueued_at":{float(now)!r}}}'
        pipe = client.redis.pipeline(transaction=True)
        by_queue: dict[str, list[str]] = {}
        # Per row: its payload as pushed, and the index of its lock script's reply (if any).
        sent: list[tuple[str, int | None]] = []
        commands = 0  # queued on the pipeline so far: each call below queues one
        for _, queue, payload, run_at, ttl in rows:
            scheduled = run_at is not None and run_at > now
            raw = payload if scheduled else payload[:-1] + stamp
            if ttl is not None:
                # Unique jobs take their lock as a direct push would; a re-pushed row
                # (same jid) finds the lock its first push took and is not queued twice.
                fields = json.loads(payload)
                target = keys.schedule if scheduled else keys.queue(queue)
                client._enqueue_unique(
                    keys=[keys.queues, keys.unique(fields["unique_digest"]),
                          keys.unique_rejected, target],
                    args=[queue, raw, fields["jid"], ttl, repr(run_at) if scheduled else ""],
                    client=pipe,
                )
                sent.append((raw, commands))
                commands += 1
                continue
            if scheduled:
                pipe.zadd(keys.schedule, {raw: float(run_at or now)})
                commands += 1
            else:
                by_queue.setdefault(queue, []).append(raw)
            sent.append((raw, None))
        for queue, raws in by_queue.items():
            pipe.sadd(keys.queues, queue)
            # LPUSH a b c leaves a at the right (popped first): oldest row runs first.
            pipe.lpush(keys.queue(queue), *raws)
        replies = pipe.execute()
        return [raw for raw, reply in sent if reply is None or replies[reply]]

    def _after_push(self, pushed: Sequence[str]) -> list[tuple[dict[str, Any], Exception]]:
        """Run the client middleware's ``after_push`` for each relayed job, as a direct
        push does once the job is in Redis. The batch is committed: a hook that raises
        stops no other, and is returned with the payload it was given."""
        failures: list[tuple[dict[str, Any], Exception]] = []
        for raw in pushed:
            payload = json_loads(raw)
            for hook in self._after_push_hooks:
                try:
                    hook(payload)
                except Exception as e:
                    failures.append((payload, e))
        return failures

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Relay until :meth:`stop`: full batches back to back, then wait for a NOTIFY
        (PostgreSQL) or ``poll_interval``; database and Redis errors back off and retry."""
        backoff = 0.0
        retried: tuple[type[BaseException], ...] = (redis.RedisError, OutboxError,
                                                    *self._errors)
        while not self._stop.is_set():
            try:
                self._listen()
                moved, failures = self._batch()
                for payload, e in failures:
                    log.error("outbox relay: client middleware after_push failed for %s jid %s "
                              "(the job is in Redis): %s: %s", payload.get("class"),
                              payload.get("jid"), type(e).__name__, e, exc_info=e)
                if moved < self.batch_size:
                    self._wait()
                backoff = 0.0
            except retried as e:
                backoff = min(5.0, max(0.1, backoff * 2))
                log.warning("outbox relay: %s: %s; retrying in %.1f s", type(e).__name__, e,
                            backoff)
                if not isinstance(e, redis.RedisError):
                    self._close_connection()
                self._stop.wait(backoff)
        self._close_connection()

    def _listen(self) -> None:
        if self.database.dialect != "postgresql" or self._listener is not None:
            return
        # LISTEN before the first batch: a row committed in between still wakes us.
        listener = self.database.connect(autocommit=True)
        listener.execute(f"LISTEN {schema.CHANNEL}")
        self._listener = listener

    def _wait(self) -> None:
        if self._listener is None:
            self._stop.wait(self.poll_interval)
            return
        # Short slices: stop() is noticed within one; the NOTIFY wakes us at once.
        deadline = time.monotonic() + max(self.poll_interval, 2.0)
        while not self._stop.is_set() and time.monotonic() < deadline:
            for _ in self._listener.notifies(timeout=min(0.25, self.poll_interval),
                                             stop_after=1):
                return

    def _close_connection(self) -> None:
        for conn in (self._conn, self._listener):
            if conn is not None:
                try:
                    conn.close()
                except Exception as e:
                    log.debug("closing an outbox connection: %s", e)
        self._conn = self._listener = None

    def close(self) -> None:
        """Close the relay's database connections (a stopped relay closes its own)."""
        self._close_connection()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Run :meth:`run` on a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="jobkit-outbox-relay",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in progress, then stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def _is_lock_conflict(error: BaseException) -> bool:
    """A deadlock or lock timeout the database resolved by aborting our transaction."""
    code = getattr(error, "sqlstate", None) or (error.args[0] if error.args else None)
    return code in ("40P01", "40001", 1213, 1205)


def _driver_errors(dialect: str) -> tuple[type[BaseException], ...]:
    try:
        if dialect == "postgresql":
            import psycopg

            return (psycopg.Error,)
        if dialect == "mysql":
            import pymysql

            return (pymysql.Error,)
    except ImportError:
        return ()
    import sqlite3

    return (sqlite3.Error,)


def status(database: Database | str) -> dict[str, Any]:
    """Rows waiting in the outbox and the age in seconds of the oldest (None if empty)."""
    db = Database.from_url(database) if isinstance(database, str) else database
    conn = db.connect(autocommit=db.dialect != "sqlite")
    try:
        cur = conn.cursor()
        try:
            cur.execute(f"SELECT COUNT(*), MIN(created_at) FROM {T}")
            count, oldest = cur.fetchone()
        except _driver_errors(db.dialect) as e:
            raise OutboxError(f"cannot read {T} at {db}: {e} "
                              "(create it with `jobkit outbox create-table`)") from e
        finally:
            cur.close()
    finally:
        conn.close()
    age = None if oldest is None else max(0.0, time.time() - float(oldest))
    return {"waiting": int(count), "oldest_age": age}


def create_table(database: Database | str) -> list[str]:
    """Create the outbox table (and PostgreSQL's NOTIFY trigger); the statements run."""
    db = Database.from_url(database) if isinstance(database, str) else database
    statements = schema.create_statements(db.dialect)
    conn = db.connect(autocommit=db.dialect != "sqlite")
    try:
        cur = conn.cursor()
        try:
            for sql in statements:
                cur.execute(sql)
        except _driver_errors(db.dialect) as e:
            raise OutboxError(f"cannot create {T} at {db}: {e}") from e
        finally:
            cur.close()
    finally:
        conn.close()
    return statements
