"""Unique-lock calls from coroutine jobs: ``redis.asyncio`` against the sync client in a thread.

``Processor.aprocess`` takes and releases ``while_executing``/``until_executing`` locks from
the event loop. This runs the same pair of calls (``SET NX PX``, then the unlock script) both
ways side by side, at 1 and at 100 in flight, for several rounds, and prints pairs per
second, process CPU per pair, and the ratio async / thread. The blocking sync call on the
loop itself is shown as a floor (it stalls every other coroutine, so it is no option).

    python bench/async_locks.py                       # a private redis-server
    python bench/async_locks.py --redis-url redis://127.0.0.1:6379/0 --pairs 5000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import redis
import redis.asyncio as aredis

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import private_redis

from jobkit.scripts import UNLOCK

WAYS = ("redis.asyncio", "sync in a thread", "sync on the loop (floor)")


async def measure(url: str, pairs: int, in_flight: int, rounds: int) -> dict[str, list[float]]:
    sync = redis.Redis.from_url(url)
    unlock_sync = sync.register_script(UNLOCK)
    async_client = aredis.Redis.from_url(url)
    unlock_async = async_client.register_script(UNLOCK)

    async def via_async(key: str) -> None:
        await async_client.set(key, "j", nx=True, px=10_000)
        await unlock_async(keys=[key], args=["j"])

    async def via_thread(key: str) -> None:
        await asyncio.to_thread(sync.set, key, "j", nx=True, px=10_000)
        await asyncio.to_thread(functools.partial(unlock_sync, keys=[key], args=["j"]))

    async def on_loop(key: str) -> None:
        sync.set(key, "j", nx=True, px=10_000)
        unlock_sync(keys=[key], args=["j"])

    calls: dict[str, Callable[[str], Awaitable[None]]] = dict(
        zip(WAYS, (via_async, via_thread, on_loop), strict=True))
    results: dict[str, list[float]] = {f"{w} {m}": [] for w in WAYS for m in ("rate", "cpu")}
    try:
        for _ in range(rounds):
            for way, call in calls.items():  # interleaved: load drifts hit every way alike
                gate = asyncio.Semaphore(in_flight)

                async def one(i: int, call: Callable[[str], Awaitable[None]] = call,
                              gate: asyncio.Semaphore = gate) -> None:
                    async with gate:
                        await call(f"bench-lock:{i}")

                started, cpu = time.perf_counter(), time.process_time()
                await asyncio.gather(*(one(i) for i in range(pairs)))
                elapsed = time.perf_counter() - started
                results[f"{way} rate"].append(pairs / elapsed)
                results[f"{way} cpu"].append((time.process_time() - cpu) / pairs * 1e6)
    finally:
        await async_client.aclose()
        sync.close()
    return results


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url
    else:
        with private_redis() as private:
            yield private + "/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  "
          f"({os.cpu_count()} CPUs), {args.pairs} lock pairs x {args.rounds} rounds")
    with server(args.redis_url) as url:
        for in_flight in (1, 100):
            res = asyncio.run(measure(url, args.pairs, in_flight, args.rounds))
            print(f"\n{in_flight} in flight            pairs/s median (min-max)   CPU us/pair")
            for way in WAYS:
                rates, cpus = res[f"{way} rate"], res[f"{way} cpu"]
                print(f"  {way:26} {statistics.median(rates):7.0f} "
                      f"({min(rates):.0f}-{max(rates):.0f})   {statistics.median(cpus):7.0f}")
            ratio = statistics.median(res[f"{WAYS[0]} rate"]) / statistics.median(
                res[f"{WAYS[1]} rate"])
            cpu_ratio = statistics.median(res[f"{WAYS[0]} cpu"]) / statistics.median(
                res[f"{WAYS[1]} cpu"])
            print(f"  redis.asyncio / thread: {ratio:.2f}x the rate, {cpu_ratio:.2f}x the CPU")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
