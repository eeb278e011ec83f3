"""The transactional outbox, measured: the relay's throughput from PostgreSQL to Redis, and
what ``Job.set(outbox=session).perform_async`` costs inside a transaction against a plain
INSERT of the same row.

Run from the repository root (jobkit installed with its test extra):

    python bench/outbox.py [--jobs 100000] [--batch-size 1000] [--calls 5000] [--rounds 3]

Uses a fresh PostgreSQL database (``BENCH_POSTGRES``, default
postgresql://postgres@127.0.0.1:5432/test is the server, a ``jobkit_outbox_bench_*``
database is created on it and dropped) and Redis at ``BENCH_REDIS`` in a namespace of its
own, whose keys are deleted at the end. Printed side by side each round:

* relay: rows moved per second by one ``Relay.drain()`` (take, delete, push, commit per
  batch), next to ``perform_bulk`` of the same jobs straight into Redis (the ceiling);
* write: microseconds per call of ``Job.set(outbox=session).perform_async`` against a plain
  INSERT of the same row, through the driver's SQL (``exec_driver_sql``, what jobkit runs)
  and through ``session.execute(text(...))``, all in one open transaction, in alternating
  blocks of 100 calls.

Medians of the rounds (of the per-round ratios for the write), with the machine's load
average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from urllib.parse import urlsplit

import psycopg
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import jobkit
from jobkit.outbox import schema
from jobkit.outbox.relay import Relay, create_table
from jobkit.outbox.writer import driver_insert, row_of

SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
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


def write_round(engine: object, calls: int, block: int = 100) -> tuple[float, float, float]:
    """The three kinds in one open transaction, in alternating blocks of ``block`` calls, so
    the other agents' load falls on all alike; microseconds per call of each: the outbox
    enqueue (``set()`` included, as an app writes it), the same INSERT through the driver's
    SQL (what jobkit runs), and through ``session.execute(text(...))`` (typical Core code)."""
    client = jobkit.get_client()
    ready = client.prepare(ChargeOrderJob, [1, "12.50"], ChargeOrderJob.options())
    assert ready is not None
    row = row_of(ready)
    named = dict(zip(schema.COLUMNS, row, strict=True))
    core = text(schema.insert_sql_named())
    spent = [0.0, 0.0, 0.0]
    with Session(engine) as session:  # type: ignore[call-overload]
        session.begin()
        conn = session.connection()
        insert = driver_insert(conn.dialect.paramstyle)
        for n in range(0, calls, block):
            t0 = time.perf_counter()
            for i in range(n, n + block):
                ChargeOrderJob.set(outbox=session).perform_async(i, "12.50")
            t1 = time.perf_counter()
            for _ in range(block):
                conn.exec_driver_sql(insert, row)
            t2 = time.perf_counter()
            for _ in range(block):
                session.execute(core, named)
            t3 = time.perf_counter()
            spent[0] += t1 - t0
            spent[1] += t2 - t1
            spent[2] += t3 - t2
        session.rollback()  # the rows are not the point; keep the table small
    done = (calls // block) * block
    out, plain, typical = (s / done * 1e6 for s in spent)
    return out, plain, typical


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    name = f"jobkit_outbox_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(SERVER, autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    url = urlsplit(SERVER)._replace(path=f"/{name}").geturl()
    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    settings = jobkit.Settings(redis_url=REDIS, namespace=f"bench-outbox-{name[-8:]}")
    jobkit.configure(settings)
    try:
        create_table(url)
        print(f"PostgreSQL -> Redis, {args.jobs} jobs per round, batch {args.batch_size}; "
              f"{args.calls} calls per write round. {_load()}")
        relays, directs, ratios, typicals = [], [], [], []
        for n in range(1, args.rounds + 1):
            relay, direct = relay_round(engine, url, settings, args.jobs, args.batch_size)
            out, plain, typical = write_round(engine, args.calls)
            relays.append(relay)
            directs.append(direct)
            ratios.append(out / plain)
            typicals.append(out / typical)
            print(f"round {n}: relay {relay:,.0f} jobs/s, perform_bulk to Redis "
                  f"{direct:,.0f} jobs/s ({relay / direct:.2f}x); outbox perform_async "
                  f"{out:.1f} us/call, driver INSERT {plain:.1f} us ({out / plain:.2f}x), "
                  f"session.execute(text) INSERT {typical:.1f} us ({out / typical:.2f}x). "
                  f"{_load()}")
        relay, direct = statistics.median(relays), statistics.median(directs)
        print(f"median: relay {relay:,.0f} jobs/s (target >= 20,000), direct push "
              f"{direct:,.0f} jobs/s; outbox perform_async / driver INSERT "
              f"{statistics.median(ratios):.2f}x (target <= 1.3x), / session.execute(text) "
              f"INSERT {statistics.median(typicals):.2f}x. {_load()}")
    finally:
        engine.dispose()
        r = redis.Redis.from_url(REDIS)
        keys = list(r.scan_iter(match=f"{settings.namespace}:*"))
        if keys:
            r.delete(*keys)
        r.close()
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


if __name__ == "__main__":
    main()
