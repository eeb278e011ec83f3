"""Periodic jobs at scale: 10,000 entries ticked by 1 process and by 5 side by side, the
scheduler's CPU per tick per process, and whether each tick was enqueued exactly once.

Run from the repository root (jobkit installed):

    python bench/periodic.py [--entries 10000] [--seconds 20]

Entries tick every 1, 2, 5, 10, 30 or 60 s, or by ``* * * * *`` (in turns). Each process
runs the worker's ticker loop (poll, sleep until the next tick) on database 5 of
``BENCH_REDIS`` (flushed before and after: never point it at data you keep). Afterwards every
enqueued payload is read back: a (entry, tick) pair seen twice is a double enqueue, and a tick
between an entry's first and last enqueued tick that is absent is a missing one.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from collections import Counter

import redis

URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379") + "/5"
QUEUE = "periodic-bench"
EVERY = (1, 2, 5, 10, 30, 60, None)


def _define(count: int) -> None:
    import jobkit

    class Tick(jobkit.Job):
        name = "bench.Tick"
        queue = QUEUE

        def perform(self) -> None:
            pass

    for n in range(count):
        every = EVERY[n % len(EVERY)]
        if every is None:
            jobkit.periodic(f"e{n}", Tick, cron="* * * * *")
        else:
            jobkit.periodic(f"e{n}", Tick, every=every)


def _run(index: int, count: int, until: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import jobkit
    from jobkit.connection import connect
    from jobkit.ticker import Ticker

    _define(count)
    settings = jobkit.Settings(redis_url=URL, namespace="bench")
    ticker = Ticker(connect(URL), settings, identity=f"bench:{os.getpid()}:{index}")
    polls = 0
    cpu = time.process_time()
    while time.time() < until:
        wait = ticker.poll()
        polls += 1
        time.sleep(max(0.0, min(wait, until - time.time())))
    out.put({"polls": polls, "cpu": time.process_time() - cpu, "enqueued": ticker.enqueued})


def _check(r: redis.Redis) -> dict[str, int]:
    seen: Counter[tuple[str, float]] = Counter()
    for raw in r.lrange(f"bench:queue:{QUEUE}", 0, -1):
        job = json.loads(raw)
        seen[(job["periodic"], job["periodic_at"])] += 1
    by_entry: dict[str, list[float]] = {}
    for name, tick in seen:
        by_entry.setdefault(name, []).append(tick)
    missing = 0
    from jobkit import periodic_entries

    for name, ticks in by_entry.items():
        entry = periodic_entries.entries()[name]
        ticks.sort()
        expected = entry.schedule.ticks(ticks[0] - 0.001, ticks[-1], limit=10**6)
        missing += len(set(expected) - set(ticks))
    return {"ticks": len(seen), "doubled": sum(1 for n in seen.values() if n > 1),
            "missing": missing, "entries_ticked": len(by_entry)}


def _round(processes: int, count: int, seconds: float) -> dict[str, float]:
    r = redis.Redis.from_url(URL)
    r.flushdb()
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    until = time.time() + seconds
    procs = [mp.Process(target=_run, args=(i, count, until, out)) for i in range(processes)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    checked = _check(r)
    r.flushdb()
    polls = sum(x["polls"] for x in results)
    cpu = sum(x["cpu"] for x in results)
    return {"processes": processes, **checked,
            "cpu_ms_per_poll_per_process": 1000 * cpu / max(1, polls),
            "cpu_us_per_tick_per_process": 1e6 * cpu / processes / max(1, checked["ticks"]),
            "cpu_share_per_process": cpu / processes / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    _define(args.entries)  # for the checks, in this process
    print(f"load before: {os.getloadavg()}")
    rows = [_round(n, args.entries, args.seconds) for n in (1, 5)]
    for row in rows:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}))
    one, five = rows
    print(f"CPU per tick per process, 5 processes / 1: "
          f"{five['cpu_us_per_tick_per_process'] / one['cpu_us_per_tick_per_process']:.2f}x")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
