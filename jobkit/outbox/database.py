"""The relay's own database connections, opened from a URL with the plain DBAPI driver
(psycopg, PyMySQL, sqlite3): the relay needs neither SQLAlchemy nor Django.

URLs: ``postgresql://user@host:5432/db`` (also ``postgres://``, ``postgresql+psycopg://``),
``mysql://root@host:3306/db`` (also ``mariadb://``, ``mysql+pymysql://``),
``sqlite:///relative.db`` or ``sqlite:////absolute/path.db``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import OutboxError
from .schema import dialect_of


@dataclass(frozen=True)
class Database:
    """Where the outbox table lives, and how to connect to it."""

    url: str
    dialect: str
    #: The DBAPI placeholder: ``%s`` (psycopg, PyMySQL) or ``?`` (sqlite3).
    mark: str

    @classmethod
    def from_url(cls, url: str) -> Database:
        """Parse ``url``; raises :class:`OutboxError` naming it when it is not usable."""
        if not isinstance(url, str) or "://" not in url:
            raise OutboxError(
                f"database URL {url!r} must look like postgresql://user@host/db, "
                "mysql://user@host/db or sqlite:///path.db"
            )
        scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
        try:
            dialect = dialect_of(scheme)
        except OutboxError:
            raise OutboxError(
                f"database URL {_safe(url)!r}: scheme {scheme!r} is not supported; "
                "use postgresql://, mysql:// (MariaDB) or sqlite:///"
            ) from None
        return cls(url=url, dialect=dialect, mark="?" if dialect == "sqlite" else "%s")

    def __str__(self) -> str:
        return _safe(self.url)

    def connect(self, *, autocommit: bool = False) -> Any:
        """A new DBAPI connection (transactions explicit unless ``autocommit``)."""
        try:
            if self.dialect == "postgresql":
                return self._postgresql(autocommit)
            if self.dialect == "mysql":
                return self._mysql(autocommit)
            return self._sqlite()
        except ImportError as e:
            extra = "postgres" if self.dialect == "postgresql" else "mysql"
            raise OutboxError(
                f"{self.dialect} outbox needs its driver: pip install 'jobkit[{extra}]' ({e})"
            ) from e

    def _postgresql(self, autocommit: bool) -> Any:
        import psycopg

        conninfo = "postgresql://" + self.url.split("://", 1)[1]
        try:
            return psycopg.connect(conninfo, autocommit=autocommit)
        except psycopg.Error as e:
            raise OutboxError(f"cannot connect to {self}: {e}") from e

    def _mysql(self, autocommit: bool) -> Any:
        import pymysql

        parts = urlsplit(self.url)
        try:
            return pymysql.connect(
                host=parts.hostname or "localhost", port=parts.port or 3306,
                user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
                database=parts.path.lstrip("/") or None, autocommit=autocommit,
                charset="utf8mb4",
                # Under REPEATABLE READ, InnoDB's gap locks made two relays' DELETEs
                # deadlock (after their pushes: duplicates); READ COMMITTED locks rows only.
                init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            )
        except pymysql.Error as e:
            raise OutboxError(f"cannot connect to {self}: {e}") from e

    def _sqlite(self) -> Any:
        import sqlite3

        path = self.url.split("://", 1)[1]
        if not path.startswith("/"):
            raise OutboxError(f"database URL {self.url!r}: write sqlite:///file.db")
        path = path[1:] or ":memory:"
        # isolation_level=None: the relay issues BEGIN IMMEDIATE itself, which takes the
        # write lock up front so two relays on one file take turns instead of deadlocking.
        return sqlite3.connect(path, isolation_level=None, timeout=30.0,
                               check_same_thread=False)


def _safe(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
