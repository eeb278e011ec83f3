"""``set(outbox=...)``: the job becomes one INSERT in the caller's transaction.

The checks and client middleware run at the call, as for a push; what the row holds is
what the relay pushes later, with the same jid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..client import Ready
from ..payload import encode
from ..prepared import PreparedRoute
from . import schema

if TYPE_CHECKING:
    from ..client import Client

Row = tuple[str, str, str, float | None, int | None, float]


def row_of(ready: Ready) -> Row:
    """The outbox row of a prepared job (column order of :data:`schema.COLUMNS`)."""
    p = ready.payload
    return (str(p["jid"]), str(p["queue"]), encode(p).decode(), ready.at,
            ready.unique_ttl_ms, float(p["created_at"]))


class _Writer(PreparedRoute):
    def write(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def send(self, client: Client, ready: list[Ready]) -> None:
        self.write([row_of(r) for r in ready])


class SqlAlchemyOutbox(_Writer):
    """Writes rows through a SQLAlchemy Session or Connection (its current transaction)."""

    def __init__(self, target: Any, kind: str) -> None:
        self.target = target
        self._session = kind == "session"

    def write(self, rows: list[Row]) -> None:
        # The session's current connection: it may change between transactions.
        conn = self.target.connection() if self._session else self.target
        style = conn.dialect.paramstyle
        sql = driver_insert(style)
        params: list[Any] = (
            [dict(zip(schema.COLUMNS, row, strict=True)) for row in rows]
            if style == "named" else rows
        )
        if _observed(conn):
            # Someone listens (echo, an event, an instrumentation): let SQLAlchemy run it.
            conn.exec_driver_sql(sql, params[0] if len(params) == 1 else params)
        else:
            if not self._session and not conn.in_transaction():
                # What SQLAlchemy's autobegin does on execute: without it the DBAPI would
                # begin on its own, unseen, and the connection's commit() would commit nothing.
                conn.begin()
            _execute(conn, sql, params)


def _observed(conn: Any) -> bool:
    """Whether a SQLAlchemy Connection logs statements or has execution events listening.

    The same two flags SQLAlchemy checks before it dispatches; read defensively (a
    release without them takes the observed path, which is always correct)."""
    return bool(getattr(conn, "_echo", True) or getattr(conn, "_has_events", True)
                or getattr(conn.engine, "_has_events", True))


_CURSOR = "jobkit_outbox_cursor"


def _execute(conn: Any, sql: str, params: list[Any]) -> None:
    """The INSERT straight on the DBAPI cursor of ``conn``'s transaction.

    SQLAlchemy's execution context (result set-up, parameter processing, event checks)
    costs a round trip's worth of CPU on an INSERT that returns nothing; the cursor is
    kept in the pooled connection's ``info``, which SQLAlchemy clears with the connection.
    Errors come out as SQLAlchemy's, as from ``exec_driver_sql``.
    """
    pooled = conn.connection
    dbapi_conn = pooled.dbapi_connection
    cached = pooled.info.get(_CURSOR)
    if cached is not None and cached[0] is dbapi_conn:
        cursor = cached[1]
    else:
        cursor = dbapi_conn.cursor()
        pooled.info[_CURSOR] = (dbapi_conn, cursor)
    dialect = conn.dialect
    try:
        if len(params) == 1:
            cursor.execute(sql, params[0])
        else:
            cursor.executemany(sql, params)
    except dialect.loaded_dbapi.Error as e:
        from sqlalchemy.exc import DBAPIError

        pooled.info.pop(_CURSOR, None)
        lost = bool(dialect.is_disconnect(e, dbapi_conn, cursor))
        if lost:
            conn.invalidate(e)
        raise DBAPIError.instance(
            sql, params, e, dialect.loaded_dbapi.Error, connection_invalidated=lost,
            dialect=dialect, ismulti=len(params) > 1,
        ) from e


def driver_insert(paramstyle: str) -> str:
    """The INSERT with the placeholders of a DBAPI ``paramstyle`` (positional values)."""
    sql = _BY_STYLE.get(paramstyle)
    if sql is None:
        marks = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(paramstyle)
        if marks is not None:
            sql = schema.insert_sql(marks)
        elif paramstyle == "numeric":
            sql = schema.insert_sql("?")
            for n in range(1, len(schema.COLUMNS) + 1):
                sql = sql.replace("?", f":{n}", 1)
        else:  # named: values passed as a dict
            sql = schema.insert_sql_named()
        _BY_STYLE[paramstyle] = sql
    return sql


_BY_STYLE: dict[str, str] = {}


class DjangoOutbox(_Writer):
    """Writes rows through a Django database connection (its current atomic block)."""

    def __init__(self, owner: str, value: Any) -> None:
        from ..transactions.django import database_alias

        self.using = database_alias(owner, "outbox", value)
        self._insert = schema.insert_sql("%s")

    def write(self, rows: list[Row]) -> None:
        from django.db import connections

        with connections[self.using].cursor() as cursor:
            if len(rows) == 1:
                cursor.execute(self._insert, rows[0])
            else:
                cursor.executemany(self._insert, rows)
