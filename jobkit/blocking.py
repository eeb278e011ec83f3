"""Waiting on Redis instead of polling it: a thread per blocking command, each on its own
connection, that an idle worker arms and a busy or stopping one unblocks.

An idle worker used to poll every queue every 50 ms (20 script calls a second per process,
and up to 50 ms before a job started). A blocked ``BLMOVE`` costs one command per timeout
and returns the moment a job is pushed, by jobkit or by any Sidekiq client's plain
``LPUSH``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import redis

from .backoff import next_backoff
from .replies import integer
from .threads import thread

log = logging.getLogger("jobkit.worker")

#: Seconds one blocking command waits server-side before it is sent again. Each repeat is a
#: command; connections are health-checked after 30 s without a reply, so stay under that.
BLOCK_SECONDS = 25.0
#: Longest pause between reconnection attempts. Short: after a Sentinel failover the new
#: master is up within a second or two, and an idle worker only hears of jobs through these.
RECONNECT_BACKOFF = 1.0


def can_block(connection: redis.Redis) -> bool:
    """False for fakeredis, which cannot block across threads: callers poll instead."""
    return not type(connection).__module__.startswith("fakeredis")


def blocking_client(connection: redis.Redis) -> redis.Redis:
    """A client that keeps one connection of ``connection``'s pool to itself, for a
    blocking command (CLIENT UNBLOCK needs that connection's id), with a socket timeout
    longer than the block. Connects at once (raises ``redis.RedisError``)."""
    client: redis.Redis = redis.Redis(connection_pool=connection.connection_pool,
                                      single_connection_client=True)
    conn: Any = client.connection
    if conn is not None:
        # Kept on reconnects; put back by Blocker.stop before the pool has it again.
        conn._jobkit_socket_timeout = conn.socket_timeout
        conn.socket_timeout = BLOCK_SECONDS + 5.0
        conn.disconnect()  # the pool connected it with the old timeout
    return client


class Blocker:
    """Runs ``command(client, timeout)`` over and over while armed, on its own thread and
    connection, and hands each non-empty reply to ``deliver``.

    ``command`` must be safe to interrupt: :meth:`unblock` makes a blocked command return
    as if it timed out (``CLIENT UNBLOCK``), so a reply is either whole or nothing."""

    def __init__(
        self,
        client: redis.Redis,
        control: redis.Redis,
        command: Callable[[redis.Redis, float], Any],
        deliver: Callable[[Any], None],
        *,
        name: str,
        on_error: Callable[[redis.RedisError], None] | None = None,
        one_shot: bool = False,
        prepare: Callable[[Any], None] | None = None,
    ) -> None:
        self.client = client
        self.control = control
        self.command = command
        self.deliver = deliver
        self.name = name
        self.on_error = on_error
        #: Disarm after each reply delivered: a job wake-up takes one job, then the caller
        #: fetches the rest in queue order.
        self.one_shot = one_shot
        #: Run on each new connection before the first command, with that connection.
        self.prepare = prepare
        self.timeout = BLOCK_SECONDS
        self._armed = threading.Event()
        self._stopped = threading.Event()
        self._client_id: int | None = None
        #: Set while no command is in flight (and its reply, if any, delivered).
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()
        self._thread = thread(self._loop, name)
        conn: Any = client.connection
        if conn is not None:
            # redis-py reopens a dropped connection on its next command by itself, under a
            # new client id: CLIENT UNBLOCK must follow it there, or a quiesce waits out the
            # whole block and the exchanger cannot reconcile meanwhile.
            conn.register_connect_callback(self._on_connect)

    def start(self, *, armed: bool = False) -> None:
        if armed:
            self._armed.set()
        self._thread.start()

    def arm(self) -> None:
        self._armed.set()

    def quiesce(self, timeout: float = 2.0) -> bool:
        """Disarm, unblock and wait until no command is in flight (its reply delivered);
        False if that took longer than ``timeout``."""
        self._armed.clear()
        waited = 0.0
        while not self._idle.is_set():
            if waited >= timeout:
                return False
            self.unblock()
            self._idle.wait(0.05)
            waited += 0.05
        return True

    @property
    def armed(self) -> bool:
        return self._armed.is_set()

    def unblock(self) -> None:
        with self._lock:
            client_id = self._client_id
        if client_id is not None:
            try:
                self.control.client_unblock(client_id)
            except redis.RedisError as e:
                log.debug("cannot unblock %s: %s", self.name, e)

    def stop(self, timeout: float = 5.0) -> None:
        """Unblock and join the thread; a reply already on its way is still delivered."""
        self._stopped.set()
        self._armed.set()  # wake the thread if it waits to be armed
        waited = 0.0
        while self._thread.is_alive() and waited < timeout:
            self.unblock()
            self._thread.join(0.05)
            waited += 0.05
        if self._thread.is_alive():
            log.warning("%s did not stop within %.1fs", self.name, timeout)
        conn: Any = self.client.connection
        if conn is not None:
            conn.deregister_connect_callback(self._on_connect)
            if hasattr(conn, "_jobkit_socket_timeout"):
                conn.socket_timeout = conn._jobkit_socket_timeout
        with contextlib.suppress(redis.RedisError):
            self.client.close()

    def _loop(self) -> None:
        backoff = 0.0
        while True:
            self._armed.wait()
            if self._stopped.is_set():
                return
            self._idle.clear()
            try:
                # Checked after clearing _idle: quiesce() either sees this command in flight
                # or this thread sees the disarm.
                if self._stopped.is_set() or not self._armed.is_set():
                    continue
                try:
                    reply = self._command()
                    backoff = 0.0
                except redis.RedisError as e:
                    with self._lock:
                        self._client_id = None
                    if self._stopped.is_set():
                        return
                    if self.on_error is not None:
                        self.on_error(e)
                    # Nothing is in flight while this waits: quiesce() must not wait for it.
                    self._idle.set()
                    backoff = next_backoff(backoff, self.name, e, limit=RECONNECT_BACKOFF)
                    self._stopped.wait(backoff)
                    continue
                if reply:
                    if self.one_shot:
                        self._armed.clear()
                    self.deliver(reply)
            finally:
                self._idle.set()

    def _on_connect(self, conn: Any) -> None:
        """On every (re)connection, before any command of ours: learn its client id."""
        try:
            conn.send_command("CLIENT", "ID")
            client_id = integer(conn.read_response())
            if self.prepare is not None:
                self.prepare(conn)
        except BaseException:
            conn.disconnect()  # half set up: the next command connects afresh
            raise
        with self._lock:
            self._client_id = client_id

    def _command(self) -> Any:
        if self._client_id is None:
            # After an error: connect() is what asks Sentinel for the master, which a
            # failover has moved (redis-py would reconnect to the address it last had).
            conn: Any = self.client.connection
            if conn is not None:
                conn.disconnect()
                conn.connect()  # calls _on_connect
        return self.command(self.client, self.timeout)
