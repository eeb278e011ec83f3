"""Server time of the dashboard's heaviest pages, beside Sidekiq 6.4's Web UI on the same data.

    python bench/web.py --redis-url redis://127.0.0.1:6379/15 [--requests 20]

Fills an EMPTY database (it refuses one that holds keys, and deletes what it wrote at the
end) with 10,000 dead jobs as a worker writes them and 100 queues of 10 jobs, serves
``jobkit.web`` on uvicorn and requests each page ``--requests`` times over HTTP. The server
time is the app's own ``Server-Timing`` (from the first byte of the request reaching the app
to the response headers). With Ruby and the
sidekiq gem, ``bench/sidekiq_web.rb`` times Sidekiq::Web on the same keys through
Rack::MockRequest (in-process, no HTTP), for the ratio. Prints the load (``uptime``) too:
the machine is shared.

Targets (issue 14): dead page and queues page ≤ 50 ms, live endpoint ≤ 10 ms (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import redis
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jobkit  # noqa: E402
from jobkit import payload as pl  # noqa: E402
from jobkit.keys import Keys  # noqa: E402
from jobkit.web import create_app  # noqa: E402

#: (label, jobkit path, Sidekiq Web path, target ms or None)
PAGES = [
    ("dead, page 1 of 400", "/dead", "/morgue", 50.0),
    ("dead, page 200", "/dead?page=200", "/morgue?page=200", 50.0),
    ("queues (100)", "/queues", "/queues", 50.0),
    ("live endpoint", "/stats/live", "/stats", 10.0),
    ("dashboard", "/", "/", None),
    ("dead, search 'row 4242'", "/dead?q=row+4242", None, None),
]


def fill(r: redis.Redis, keys: Keys, *, dead: int, queues: int, per_queue: int) -> None:
    now = time.time()
    backtrace = pl.compress_backtrace([f"app/jobs/import.py:{n}:in perform" for n in range(20)])
    pipe = r.pipeline(transaction=False)
    for n in range(dead):
        at = now - dead + n
        job = pl.build("shop.ImportOrderJob", [n, {"sku": f"SKU-{n}"}], queue="imports",
                       retry=3, now=at - 3600)
        job.update(error_class="KeyError", error_message=f"missing sku for row {n}",
                   failed_at=at - 3000, retried_at=at, retry_count=3,
                   error_backtrace=backtrace)
        pipe.zadd(keys.dead, {pl.encode(job): at})
        if n % 1000 == 999:
            pipe.execute()
    for q in range(queues):
        name = f"queue-{q:03d}"
        pipe.sadd(keys.queues, name)
        for n in range(per_queue):
            job = pl.build("shop.SendReceiptJob", [n], queue=name, retry=True, now=now - 60)
            pipe.lpush(keys.queue(name), pl.encode(job))
    for back in range(90):
        day = time.strftime("%Y-%m-%d", time.gmtime(now - back * 86400))
        pipe.set(keys.stat("processed", day), 1000 + back)
        pipe.set(keys.stat("failed", day), back)
    pipe.set(keys.stat("processed"), 123_456)
    pipe.set(keys.stat("failed"), 789)
    pipe.execute()


def serve(app: object) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def time_jobkit(url: str, path: str, requests: int) -> float:
    """Median server milliseconds of ``requests`` GETs (after one warm-up). The client's own
    round trip is not reported: httpx adds a TCP delayed-ACK wait (~40 ms) that browsers
    and curl do not see."""
    server = []
    with httpx.Client(base_url=url) as client:
        client.get(path).raise_for_status()
        for _ in range(requests):
            response = client.get(path)
            response.raise_for_status()
            timing = response.headers["server-timing"]
            server.append(float(timing.split("dur=")[1]))
    return statistics.median(server)


def time_sidekiq(redis_url: str, paths: list[str], requests: int) -> dict[str, float] | None:
    if shutil.which("ruby") is None:
        return None
    out = subprocess.run(
        ["ruby", str(ROOT / "bench" / "sidekiq_web.rb"), str(requests), *paths],
        env={**os.environ, "SIDEKIQ_REDIS_URL": redis_url}, capture_output=True, text=True,
        timeout=600)
    if out.returncode != 0:
        print(f"(Sidekiq Web not timed: {out.stderr.strip().splitlines()[-1:]})")
        return None
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15",
                        help="an EMPTY database (default: redis://127.0.0.1:6379/15)")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    r = redis.Redis.from_url(args.redis_url)
    if r.dbsize():
        print(f"refusing: {args.redis_url} holds {r.dbsize()} keys; give an empty database")
        return 2
    # No namespace: Sidekiq's Web UI reads the same keys without redis-namespace.
    settings = jobkit.Settings(redis_url=args.redis_url)
    keys = Keys("")
    try:
        started = time.perf_counter()
        fill(r, keys, dead=10_000, queues=100, per_queue=10)
        print(f"filled 10,000 dead jobs and 100 queues in {time.perf_counter() - started:.1f} s")
        url, server, thread = serve(create_app(settings))
        results = {path: time_jobkit(url, path, args.requests) for _, path, _, _ in PAGES}
        server.should_exit = True
        thread.join(10)
        sidekiq = time_sidekiq(args.redis_url, [p for _, _, p, _ in PAGES if p], args.requests)
    finally:
        r.flushdb()  # the database was empty before: everything in it is ours
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"medians of {args.requests} requests; load: {load}")
    print(f"{'page':28} {'jobkit server ms':>16} {'Sidekiq Web ms':>15} {'ratio':>6}  target")
    for label, path, sk_path, target in PAGES:
        ms = results[path]
        peer = sidekiq.get(sk_path) if sidekiq and sk_path else None
        ratio = f"{peer / ms:5.1f}x" if peer else "     -"
        verdict = "" if target is None else (f"≤ {target:g} ms: "
                                             f"{'met' if ms <= target else 'NOT met'}")
        print(f"{label:28} {ms:16.2f} {peer if peer else '-':>15} {ratio}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
