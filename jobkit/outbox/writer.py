"""``set(outbox=...)``: the job becomes one INSERT in the caller's transaction.

The checks and client middleware run at the call, as for a push; what the row holds is
what the relay pushes later, with the same jid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..client import Ready
from ..payload import encode
from ..routing import PreparedRoute
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
        # The session's current connection (it may change between transactions), then
        # the driver's SQL with SQLAlchemy's events still firing: no compile per call.
        conn = self.target.connection() if self._session else self.target
        style = conn.dialect.paramstyle
        if style == "named":
            named = [dict(zip(schema.COLUMNS, row, strict=True)) for row in rows]
            conn.exec_driver_sql(driver_insert(style), named[0] if len(named) == 1 else named)
        else:
            conn.exec_driver_sql(driver_insert(style), rows[0] if len(rows) == 1 else rows)


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
