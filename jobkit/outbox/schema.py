"""The ``jobkit_outbox`` table: its DDL and the relay's statements, per database.

One row per job: the payload as the client middleware left it (JSON without
``enqueued_at``, which the relay adds when it pushes), its queue, its run time for
scheduled jobs and its unique-lock TTL for unique ones.
"""

from __future__ import annotations

from ..errors import OutboxError

TABLE = "jobkit_outbox"
#: The PostgreSQL channel the insert trigger notifies, so an idle relay wakes at once.
CHANNEL = "jobkit_outbox"
COLUMNS = ("jid", "queue", "payload", "run_at", "unique_ttl_ms", "created_at")

DIALECTS = ("postgresql", "mysql", "sqlite")

_CREATE = {
    "postgresql": [
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGSERIAL PRIMARY KEY,
    jid VARCHAR(64) NOT NULL,
    queue VARCHAR(255) NOT NULL,
    payload TEXT NOT NULL,
    run_at DOUBLE PRECISION NULL,
    unique_ttl_ms BIGINT NULL,
    created_at DOUBLE PRECISION NOT NULL
)""",
        # One NOTIFY per inserting statement (not per row); PostgreSQL delivers it at commit.
        f"""CREATE OR REPLACE FUNCTION {TABLE}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END $$""",
        f"DROP TRIGGER IF EXISTS {TABLE}_notify ON {TABLE}",
        f"""CREATE TRIGGER {TABLE}_notify AFTER INSERT ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_notify()""",
    ],
    "mysql": [
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    jid VARCHAR(64) NOT NULL,
    queue VARCHAR(255) NOT NULL,
    payload LONGTEXT NOT NULL,
    run_at DOUBLE NULL,
    unique_ttl_ms BIGINT NULL,
    created_at DOUBLE NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    ],
    "sqlite": [
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    jid VARCHAR(64) NOT NULL,
    queue VARCHAR(255) NOT NULL,
    payload TEXT NOT NULL,
    run_at REAL NULL,
    unique_ttl_ms INTEGER NULL,
    created_at REAL NOT NULL
)""",
    ],
}

_DROP = {
    "postgresql": [f"DROP TABLE IF EXISTS {TABLE}", f"DROP FUNCTION IF EXISTS {TABLE}_notify()"],
    "mysql": [f"DROP TABLE IF EXISTS {TABLE}"],
    "sqlite": [f"DROP TABLE IF EXISTS {TABLE}"],
}

#: The PostgreSQL trigger alone, for tables created by another tool (Django's migration).
NOTIFY_TRIGGER = _CREATE["postgresql"][1:]


def dialect_of(name: str) -> str:
    """jobkit's dialect for a SQLAlchemy/Django backend name (``mariadb`` is ``mysql``)."""
    normal = {"postgres": "postgresql", "mariadb": "mysql", "sqlite3": "sqlite"}.get(name, name)
    if normal not in DIALECTS:
        raise OutboxError(
            f"database {name!r} is not supported by jobkit's outbox; "
            "use PostgreSQL, MariaDB/MySQL or SQLite"
        )
    return normal


def create_statements(dialect: str) -> list[str]:
    """The statements that create the table (idempotent: ``IF NOT EXISTS``)."""
    return list(_CREATE[dialect_of(dialect)])


def drop_statements(dialect: str) -> list[str]:
    """The statements that drop the table (and PostgreSQL's trigger function)."""
    return list(_DROP[dialect_of(dialect)])


def insert_sql(mark: str) -> str:
    """The INSERT of one row with DBAPI placeholders ``mark`` (``%s``, ``?``)."""
    return (f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(COLUMNS))})")


def insert_sql_named() -> str:
    """The INSERT of one row with ``:column`` placeholders (SQLAlchemy's ``text()``)."""
    return (f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(':' + c for c in COLUMNS)})")
