"""Real databases for the after-commit and outbox tests: PostgreSQL, MariaDB and SQLite.

Each test module gets databases of its own (``jobkit_outbox_test_<random>``), dropped at
the end, so parallel runs never share a table. A missing server skips locally and fails
in CI (``tests.needs.missing``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from jobkit.outbox.relay import create_table
from tests.needs import missing, require_binary

POSTGRES_URL = os.environ.get("JOBKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("JOBKIT_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")
KINDS = ["postgresql", "mysql", "sqlite"]


@dataclass
class Database:
    """One test database: its relay URL, its SQLAlchemy URL and an engine on it."""

    kind: str
    url: str
    sa_url: str
    engine: Any

    def count_outbox(self) -> int:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM jobkit_outbox")).scalar_one())

    def reset(self) -> None:
        """Fresh ``orders`` and ``jobkit_outbox`` tables."""
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS deferred_check"))
            conn.execute(text("DROP TABLE IF EXISTS orders"))
            conn.execute(text("DROP TABLE IF EXISTS jobkit_outbox"))
            conn.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY, item VARCHAR(50))"))
        create_table(self.url)


def _with_db(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def server_database(kind: str) -> Iterator[tuple[str, str]]:
    """Create a fresh database on the server; yields (relay URL, SQLAlchemy URL)."""
    name = f"jobkit_outbox_test_{uuid.uuid4().hex[:10]}"
    if kind == "postgresql":
        import psycopg

        try:
            admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
        except psycopg.Error as e:
            missing(f"no PostgreSQL at {POSTGRES_URL} ({e})")
        admin.execute(f"CREATE DATABASE {name}")
        url = _with_db(POSTGRES_URL, name)
        try:
            yield url, "postgresql+psycopg://" + url.split("://", 1)[1]
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.close()
        return
    import pymysql

    parts = urlsplit(MARIADB_URL)
    try:
        admin = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                                user=parts.username or "root", password=parts.password or "",
                                autocommit=True, connect_timeout=3)
    except pymysql.Error as e:
        missing(f"no MariaDB at {MARIADB_URL} ({e})")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    url = _with_db(MARIADB_URL, name)
    try:
        yield url, "mysql+pymysql://" + url.split("://", 1)[1]
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


def open_database(kind: str, tmp_dir: Path) -> Iterator[Database]:
    """A fresh database of ``kind`` for the duration of the generator."""
    from sqlalchemy import create_engine

    if kind == "sqlite":
        path = tmp_dir / f"jobkit-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        engine = create_engine(url)
        yield Database(kind, url, url, engine)
        engine.dispose()
        return
    for url, sa_url in server_database(kind):
        engine = create_engine(sa_url)
        try:
            yield Database(kind, url, sa_url, engine)
        finally:
            engine.dispose()


@pytest.fixture(scope="module", params=KINDS)
def module_database(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    yield from open_database(request.param, tmp_path_factory.mktemp("db"))


@pytest.fixture
def db(module_database: Database) -> Database:
    """A real database (PostgreSQL, MariaDB, SQLite) with fresh orders/outbox tables."""
    module_database.reset()
    return module_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private ``redis-server`` the test can stop and start again on the same port."""

    def __init__(self) -> None:
        self.binary = require_binary("redis-server", "apt-get install redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--enable-debug-command", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(self.url).ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private Redis server, started; the test may stop and restart it."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()
