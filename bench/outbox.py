"""The transactional outbox, measured: the relay's throughput from PostgreSQL to Redis, and
what ``Job.set(outbox=session).perform_async`` costs inside a transaction against a plain
INSERT of the same row.

Run from the repository root (jobkit installed with its test extra):

    python bench/outbox.py [--jobs 100000] [--batch-size 1000] [--calls 5000] [--rounds 3]
                           [--also mariadb sqlite]

Uses a fresh PostgreSQL database (``BENCH_POSTGRES``, default
postgresql://postgres@127.0.0.1:5432/test is the server, a ``jobkit_outbox_bench_*``
database is created on it and dropped) and Redis at ``BENCH_REDIS`` in a namespace of its
own, whose keys are deleted at the end. Printed side by side each round:

* relay: rows moved per second by one ``Relay.drain()`` (take, delete, push, commit per
  batch), next to ``perform_bulk`` of the same jobs straight into Redis (the ceiling);
* write: microseconds per call, wall and CPU (``process_time``: this process only, not the
  database server's), of ``Job.set(outbox=session).perform_async`` against a plain INSERT
  of the same row written four ways (:data:`BASELINES`), all in one open transaction, in
  alternating blocks of 100 calls. What a Session user writes for "a plain INSERT" is
  ``session.execute(insert(table), row)`` or ``text()``: the baseline the target is for.
  ``exec_driver_sql`` (SQLAlchemy's thinnest call) and the DBAPI cursor itself are the
  strict floors, printed beside it. ``--also mariadb sqlite`` measures the write there too
  (MariaDB at ``BENCH_MARIADB``, default mysql://root@127.0.0.1:3306/test; a SQLite file).

Medians of the rounds (of the per-round ratios for the write), with the machine's load
average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pymysql
import redis
from sqlalchemy import column, create_engine, insert, table, text
from sqlalchemy.orm import Session

import jobkit
from jobkit.outbox import schema
from jobkit.outbox.relay import Relay, create_table
from jobkit.outbox.writer import driver_insert, row_of

SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB = os.environ.get("BENCH_MARIADB", "mysql://root@127.0.0.1:3306/test")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379") + "/4"


class ChargeOrderJob(jobkit.Job):
    name = "bench.ChargeOrderJob"

    def perform(self, order_id: int, amount: str) -> None:
        pass


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def _fill(engine: object, jobs: int) -> None:
    with Session(engine) as session, session.begin():  # type: ignore[call-overload]
        for start in range(0, jobs, 10_000):
            ChargeOrderJob.set(outbox=session).perform_bulk(
                [[i, "12.50"] for i in range(start, min(jobs, start + 10_000))])


def relay_round(engine: object, url: str, settings: jobkit.Settings, jobs: int,
                batch: int) -> tuple[float, float]:
    r = redis.Redis.from_url(settings.redis_url)
    _fill(engine, jobs)
    client = jobkit.Client(settings)
    with Relay(url, client, batch_size=batch) as relay:
        start = time.perf_counter()
        moved = relay.drain()
        relay_s = time.perf_counter() - start
    assert moved == jobs, (moved, jobs)
    queue = client.keys.queue("default")
    assert r.llen(queue) == jobs
    r.delete(queue)
    start = time.perf_counter()
    ChargeOrderJob.perform_bulk([[i, "12.50"] for i in range(jobs)], batch_size=batch)
    direct_s = time.perf_counter() - start
    r.delete(queue)
    r.close()
    return jobs / relay_s, jobs / direct_s


#: The INSERTs the outbox enqueue is measured against, from the typical to the floor.
BASELINES = {
    "core": "session.execute(insert(table), row)",
    "text": "session.execute(text(...), row)",
    "driver": "connection.exec_driver_sql(sql, row)",
    "dbapi": "the DBAPI cursor.execute(sql, row)",
}


def write_round(engine: object, calls: int, block: int = 100) -> dict[str, tuple[float, float]]:
    """The outbox enqueue and each baseline INSERT of the same row, in one open transaction
    in alternating blocks of ``block`` calls (so the other agents' load falls on all alike);
    per kind, (wall, CPU) microseconds per call. The outbox call includes ``set()``, as an
    app writes it; the baselines insert one row built beforehand."""
    client = jobkit.get_client()
    ready = client.prepare(ChargeOrderJob, [1, "12.50"], ChargeOrderJob.options())
    assert ready is not None
    row = row_of(ready)
    named = dict(zip(schema.COLUMNS, row, strict=True))
    core = insert(table(schema.TABLE, *(column(c) for c in schema.COLUMNS)))
    typed = text(schema.insert_sql_named())
    wall = dict.fromkeys(["outbox", *BASELINES], 0.0)
    cpu = dict(wall)
    with Session(engine) as session:  # type: ignore[call-overload]
        session.begin()
        conn = session.connection()
        sql = driver_insert(conn.dialect.paramstyle)
        cursor = conn.connection.dbapi_connection.cursor()
        runs = {
            "outbox": lambda i: ChargeOrderJob.set(outbox=session).perform_async(i, "12.50"),
            "core": lambda i: session.execute(core, named),
            "text": lambda i: session.execute(typed, named),
            "driver": lambda i: conn.exec_driver_sql(sql, row),
            "dbapi": lambda i: cursor.execute(sql, row),
        }
        for run in runs.values():  # warm up: statement caches, prepared statements
            for i in range(20):
                run(i)
        for n in range(0, calls, block):
            for kind, run in runs.items():
                w, c = time.perf_counter(), time.process_time()
                for i in range(n, n + block):
                    run(i)
                wall[kind] += time.perf_counter() - w
                cpu[kind] += time.process_time() - c
        session.rollback()  # the rows are not the point; keep the table small
    done = (calls // block) * block
    return {k: (wall[k] / done * 1e6, cpu[k] / done * 1e6) for k in wall}


def _ratios(rounds: list[dict[str, tuple[float, float]]], kind: str) -> tuple[float, float]:
    """Medians over the rounds of outbox ÷ ``kind``, wall and CPU."""
    return (statistics.median(r["outbox"][0] / r[kind][0] for r in rounds),
            statistics.median(r["outbox"][1] / r[kind][1] for r in rounds))


def _write_line(r: dict[str, tuple[float, float]]) -> str:
    out = r["outbox"]
    parts = [f"outbox {out[0]:.1f} us wall / {out[1]:.1f} us CPU"]
    for kind in BASELINES:
        w, c = r[kind]
        parts.append(f"{kind} {w:.1f}/{c:.1f} us ({out[0] / w:.2f}x wall, {out[1] / c:.2f}x CPU)")
    return "; ".join(parts)


def _others(also: list[str], name: str) -> dict[str, Any]:
    """Engines on MariaDB (``BENCH_MARIADB``, a database ``name`` created on it) and on a
    SQLite file in the temporary directory, each with the outbox table."""
    engines: dict[str, Any] = {}
    if "mariadb" in also:
        admin = pymysql.connect(**_mariadb_args(), autocommit=True)
        admin.cursor().execute(f"CREATE DATABASE {name}")
        admin.close()
        url = urlsplit(MARIADB)._replace(path=f"/{name}").geturl()
        create_table(url)
        engines["mariadb"] = create_engine("mysql+pymysql://" + url.split("://", 1)[1])
    if "sqlite" in also:
        path = os.path.join(tempfile.gettempdir(), f"{name}.db")
        create_table(f"sqlite:///{path}")
        engines["sqlite"] = create_engine(f"sqlite:///{path}")
    return engines


def _mariadb_args() -> dict[str, Any]:
    parts = urlsplit(MARIADB)
    return {"host": parts.hostname, "port": parts.port or 3306,
            "user": parts.username or "root", "password": parts.password or ""}


def _drop_others(also: list[str], name: str) -> None:
    if "mariadb" in also:
        admin = pymysql.connect(**_mariadb_args(), autocommit=True)
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()
    path = os.path.join(tempfile.gettempdir(), f"{name}.db")
    if os.path.exists(path):
        os.remove(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--also", nargs="*", default=[], choices=["mariadb", "sqlite"],
                        help="measure the write on these databases too")
    args = parser.parse_args()

    name = f"jobkit_outbox_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(SERVER, autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    url = urlsplit(SERVER)._replace(path=f"/{name}").geturl()
    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    settings = jobkit.Settings(redis_url=REDIS, namespace=f"bench-outbox-{name[-8:]}")
    jobkit.configure(settings)
    engines: dict[str, Any] = {"postgresql": engine}
    try:
        create_table(url)
        engines.update(_others(args.also, name))
        print(f"PostgreSQL -> Redis, {args.jobs} jobs per round, batch {args.batch_size}; "
              f"{args.calls} calls per write round. {_load()}")
        relays, directs = [], []
        writes: dict[str, list[dict[str, tuple[float, float]]]] = {d: [] for d in engines}
        for n in range(1, args.rounds + 1):
            relay, direct = relay_round(engine, url, settings, args.jobs, args.batch_size)
            relays.append(relay)
            directs.append(direct)
            print(f"round {n}: relay {relay:,.0f} jobs/s, perform_bulk to Redis "
                  f"{direct:,.0f} jobs/s ({relay / direct:.2f}x). {_load()}")
            for db, eng in engines.items():
                writes[db].append(write_round(eng, args.calls))
                print(f"  write on {db}: {_write_line(writes[db][-1])}. {_load()}")
        relay, direct = statistics.median(relays), statistics.median(directs)
        print(f"median: relay {relay:,.0f} jobs/s (target >= 20,000), direct push "
              f"{direct:,.0f} jobs/s. {_load()}")
        for db, rounds in writes.items():
            print(f"median on {db}, outbox perform_async (target <= 1.3x):")
            for k, what in BASELINES.items():
                w, c = _ratios(rounds, k)
                print(f"  / {what}: {w:.2f}x wall, {c:.2f}x CPU")
    finally:
        for eng in engines.values():
            eng.dispose()
        _drop_others(args.also, name)
        r = redis.Redis.from_url(REDIS)
        keys = list(r.scan_iter(match=f"{settings.namespace}:*"))
        if keys:
            r.delete(*keys)
        r.close()
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


if __name__ == "__main__":
    main()
