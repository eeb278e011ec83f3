"""jobkit against Sidekiq, RQ, Dramatiq, Celery, huey, arq, SAQ and taskiq, on one private Redis.

Run (from the repository root, in the bench environment of bench/README.md):

    python bench/throughput.py [--quick] [--only jobkit,huey,...] [--workloads noop,...]
                               [--rounds 5] [--no-latency] [--redis-url URL]

    # the enqueue rates alone: jobkit 1-by-1 and bulk against a bare (pipelined) LPUSH
    python bench/throughput.py --only jobkit,lpush --workloads enqueue --no-latency

Every system runs the same job bodies (bench/bodies.py) through its own client and worker:
``noop``, ``redis-call`` (one INCR on the job's own connection), ``io-10ms`` (a 10 ms sleep,
100 threads), ``async-redis-call`` and ``async-io-10ms`` (coroutine jobs; 100 and 1,000 in
flight). For each, ONE worker process drains a backlog enqueued beforehand; the rate is taken
in steady state (from 10% to 100% of the jobs done), with the worker's CPU (all its threads and
children) and the Redis commands per job over the same window. A "bare loop" row runs the
body alone at the same concurrency: the ceiling. Latency probes measure enqueue-to-first-line
of an idle worker (10-40 ms between probes, then 1-2 s), and the commands an idle worker sends.
Enqueue rates (1-by-1 and bulk) are measured for the no-op job against a bare ``LPUSH``.

Each round runs every system once, in an order rotated per round; tables show the median of
the rounds with min-max. Redis is a private ``redis-server`` started for the run (so command
counts see no other client), unless ``--redis-url`` names one whose databases 4 to 15 may be
flushed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from bench.bodies import CALLS, LATENCY  # noqa: E402
from bench.workloads import WORKLOADS  # noqa: E402

#: --only name -> module under bench/peers; the order of the tables.
PEERS = {
    "jobkit": "jobkit_peer", "bare": "bare_peer", "lpush": "lpush_peer",
    "sidekiq": "sidekiq_peer", "rq": "rq_peer", "dramatiq": "dramatiq_peer",
    "celery": "celery_peer", "huey": "huey_peer", "arq": "arq_peer", "saq": "saq_peer",
    "taskiq": "taskiq_peer", "jobkit-2p": "jobkit2_peer", "jobkit-nopin": "jobkit_nopin_peer",
    "bare-1cpu": "bare1_peer", "jobkit-lpush": "jobkit_lpush_peer", "bare-wake": "bare_wake_peer",
    "sidekiq-lpush": "sidekiq_lpush_peer",
}
#: Rows that are jobkit run otherwise, or no job system at all: never "the best peer".
VARIANTS = ("jobkit", "bare", "bare-1cpu", "lpush", "jobkit-2p", "jobkit-nopin", "jobkit-lpush",
            "bare-wake", "sidekiq-lpush")
THREADED_PEERS = ("sidekiq", "dramatiq", "huey", "celery", "rq")
ASYNC_PEERS = ("arq", "saq", "taskiq")
SINGLE, BULK = 20_000, 200_000
#: --workloads name of the enqueue rates (1-by-1 and bulk, jobkit against a bare LPUSH).
ENQUEUE = "enqueue"
QUICK_DIVISOR = 10
DRAIN_TIMEOUT = 300.0
POLL = 0.005
STEADY_FROM = 0.1
BUSY_PROBES, IDLE_PROBES = 100, 10
#: enqueued_at of each probe child's first, unmeasured probe: its latency reads as decades.
WARM_UP = 0.0
#: Coroutine jobs held in flight for the RSS probe.
RSS_IN_FLIGHT = 10_000


@dataclass
class Peer:
    key: str
    module: ModuleType
    divisor: int = 1
    runs: dict[str, list[float]] = field(default_factory=dict)
    skipped: str | None = None

    def jobs(self, workload: str) -> int:
        n = int(getattr(self.module, "JOBS", {}).get(workload, 0))
        return max(200, n // self.divisor) if n else 0

    def unsupported(self, workload: str) -> str | None:
        check = getattr(self.module, "unsupported", None)
        return check(workload) if check else None

    def add(self, metric: str, value: float) -> None:
        self.runs.setdefault(metric, []).append(value)

    def median(self, metric: str) -> float | None:
        values = self.runs.get(metric)
        return statistics.median(values) if values else None


# -- child side: enqueueing and bare loops in a fresh interpreter ------------------------


def child(spec: dict[str, Any]) -> None:
    """Run one action of a peer module and print what it measured as JSON (via --child)."""
    import resource

    mod = importlib.import_module(f"bench.peers.{spec['module']}")
    mod.setup(os.environ["BENCH_REDIS_URL"])
    action, n = spec["action"], spec.get("n", 0)
    if action == "paired":
        print(json.dumps({"ratios": mod.paired(n)}))
        return
    if action == "probe":
        # Not measured (see WARM_UP): the first call of a fresh client connects to Redis
        # and finishes its imports, 15-45 ms here, which is not the worker's pickup time.
        mod.enqueue_probe(WARM_UP)
        for gap in spec["gaps"]:
            time.sleep(gap)
            mod.enqueue_probe(time.time())
        print(json.dumps({}))
        return
    if action == "fill":
        mod.fill(spec["workload"], n)
        print(json.dumps({}))
        return
    if action in ("enqueue_single", "enqueue_bulk"):
        getattr(mod, action)(min(100, n))  # warm-up: imports, connection, scripts
    call = (lambda: mod.run(spec["workload"], n)) if action == "bare" else (
        lambda: getattr(mod, action)(n))
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "cpu": (after.ru_utime - cpu.ru_utime)
                      + (after.ru_stime - cpu.ru_stime)}))


# -- parent side --------------------------------------------------------------------------


class Bench:
    def __init__(self, base_url: str) -> None:
        self.base = base_url

    def url(self, peer: Peer) -> str:
        return f"{self.base}/{peer.module.DB}"

    def env(self, peer: Peer) -> dict[str, str]:
        env = dict(os.environ)
        env["BENCH_REDIS_URL"] = self.url(peer)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        return env

    def redis(self, peer: Peer) -> harness.CountingRedis:
        return harness.CountingRedis.from_url(self.url(peer))

    def flush(self, peer: Peer) -> None:
        with redis.Redis.from_url(self.url(peer)) as r:
            r.flushdb()

    def run_child(self, peer: Peer, spec: dict[str, Any]) -> dict[str, Any]:
        python = getattr(peer.module, "PYTHON", None) or sys.executable
        spec = {"module": peer.module.__name__.rsplit(".", 1)[1], **spec}
        # A session of its own, at the runner's nice, as the workers (harness.share_nice).
        proc = subprocess.Popen([python, str(Path(__file__).resolve()), "--child",
                                 json.dumps(spec)], cwd=ROOT, env=self.env(peer),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        harness.share_nice(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"{peer.key} {spec} failed:\n{stderr[-2000:]}")
        reply: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        return reply

    def workers(self, peer: Peer, workload: str) -> harness.Workers:
        argv, extra = peer.module.worker_command(self.url(peer), workload)
        return harness.start_workers([(argv, extra)], cwd=ROOT, env=self.env(peer),
                                     name=peer.key)

    # -- measurements ----------------------------------------------------------------------

    def enqueue(self, peer: Peer, action: str, n: int) -> tuple[float, float]:
        """Jobs/s and the enqueuing process's CPU µs/job."""
        self.flush(peer)
        try:
            reply = self.run_child(peer, {"action": action, "n": n})
            return n / reply["seconds"], 1e6 * reply["cpu"] / n
        finally:
            self.flush(peer)

    def bare(self, peer: Peer, workload: str, n: int) -> dict[str, float]:
        self.flush(peer)
        r = self.redis(peer)
        before = harness.commands(r)
        reply = self.run_child(peer, {"action": "bare", "workload": workload, "n": n})
        spent = harness.commands(r) - before - (r.sent - 1)
        self.flush(peer)
        return {"rate": n / reply["seconds"], "cpu": 1e6 * reply["cpu"] / n,
                "cmds": spent / n}

    def process(self, peer: Peer, workload: str, n: int) -> dict[str, float]:
        """Steady-state rate, worker CPU µs/job and Redis commands/job of one worker."""
        w = WORKLOADS[workload]
        self.flush(peer)
        r = self.redis(peer)
        self.run_child(peer, {"action": "fill", "workload": workload, "n": n})
        backlog = peer.module.remaining(r, n, workload)
        if backlog != n:
            raise RuntimeError(f"{peer.key} {workload}: {backlog} jobs waiting, expected {n}")

        def done() -> int:
            if w.counted:
                return int(r.get(CALLS) or 0)
            return n - int(peer.module.remaining(r, n, workload))

        def snapshot(count: int) -> tuple[float, int, float, int, int, float]:
            sent = r.sent
            return (time.perf_counter(), count, harness.tree_cpu(workers.pids),
                    harness.commands(r), sent, harness.redis_cpu(r))

        start = time.perf_counter()
        workers = self.workers(peer, workload)
        first = None
        try:
            while True:
                count = done()
                now = time.perf_counter()
                if first is None and count >= STEADY_FROM * n:
                    first = snapshot(count)
                if count >= n:
                    last = snapshot(count)
                    break
                if now - start > DRAIN_TIMEOUT or workers.dead():
                    raise RuntimeError(f"{peer.key} {workload}: {n - count} of {n} left after "
                                       f"{now - start:.0f}s; worker log {workers.log}:\n"
                                       f"{workers.tail()}")
                time.sleep(POLL)
        finally:
            workers.stop()
            self.flush(peer)
        os.unlink(workers.log)
        assert first is not None
        jobs = last[1] - first[1]
        if jobs <= 0:
            raise RuntimeError(f"{peer.key} {workload}: drained before the steady window")
        ours = last[4] - first[4]
        return {"rate": jobs / (last[0] - first[0]), "total": n / (last[0] - start),
                "cpu": 1e6 * (last[2] - first[2]) / jobs,
                "cmds": (last[3] - first[3] - ours) / jobs,
                "redis_cpu": 1e6 * (last[5] - first[5]) / jobs}

    def latency(self, peer: Peer, rng: random.Random) -> dict[str, list[float]]:
        """Enqueue-to-first-line seconds of an idle worker (busy and after-idle probes) and
        the commands per second that worker sends while idle."""
        self.flush(peer)
        r = self.redis(peer)
        workers = self.workers(peer, "noop")
        try:
            self.run_child(peer, {"action": "probe", "gaps": [0.0]})
            self._wait(r, 2, workers, peer)
            r.delete(LATENCY)
            time.sleep(1.0)
            gaps = [rng.uniform(0.010, 0.040) for _ in range(BUSY_PROBES)]
            self.run_child(peer, {"action": "probe", "gaps": gaps})
            busy = self._collect(r, len(gaps), workers, peer)
            time.sleep(1.0)
            sent, before = r.sent, harness.commands(r)
            time.sleep(5.0)
            idle_cmds = (harness.commands(r) - before - (r.sent - sent)) / 5.0
            gaps = [rng.uniform(1.0, 2.0) for _ in range(IDLE_PROBES)]
            self.run_child(peer, {"action": "probe", "gaps": gaps})
            idle = self._collect(r, len(gaps), workers, peer)
        finally:
            workers.stop()
            self.flush(peer)
        os.unlink(workers.log)
        return {"busy": busy, "idle": idle, "idle_cmds": [idle_cmds]}

    def _wait(self, r: redis.Redis, count: int, workers: harness.Workers, peer: Peer) -> None:
        deadline = time.monotonic() + 60
        while int(r.llen(LATENCY)) < count:
            if time.monotonic() > deadline or workers.dead():
                raise RuntimeError(f"{peer.key}: {r.llen(LATENCY)} of {count} probes ran; "
                                   f"worker log {workers.log}:\n{workers.tail()}")
            time.sleep(0.01)

    def _collect(self, r: redis.Redis, count: int, workers: harness.Workers,
                 peer: Peer) -> list[float]:
        self._wait(r, count + 1, workers, peer)  # and the child's warm-up probe
        values = [float(v) for v in r.lrange(LATENCY, 0, -1)]
        r.delete(LATENCY)
        return [v for v in values if v < 3600]  # the warm-up probe's reads as decades

    def rss_in_flight(self, peer: Peer, jobs: int = RSS_IN_FLIGHT) -> float:
        """MB of VmRSS of a worker holding ``jobs`` coroutine jobs in flight at once (each
        sleeping on the loop), read once its heartbeat counts them all busy."""
        self.flush(peer)
        r = self.redis(peer)
        ns = peer.module.NAMESPACE
        self.run_child(peer, {"action": "fill", "workload": "async-hold", "n": jobs})
        argv, extra = peer.module.worker_command(self.url(peer), "async-io-10ms")
        argv[argv.index("--async-concurrency") + 1] = str(jobs)
        argv += ["--timeout", "1"]
        workers = harness.start_workers([(argv, extra)], cwd=ROOT, env=self.env(peer),
                                        name=peer.key)
        try:
            deadline = time.monotonic() + 120
            while True:
                busy = [int(r.hget(f"{ns}:{m.decode()}", "busy") or 0)
                        for m in r.smembers(f"{ns}:processes")]
                if busy and busy[0] >= jobs:
                    break
                if time.monotonic() > deadline or workers.dead():
                    raise RuntimeError(f"{busy} of {jobs} coroutine jobs in flight after 120 s;"
                                       f" worker log {workers.log}:\n{workers.tail()}")
                time.sleep(0.2)
            return harness.rss_mb(workers.pids[0])
        finally:
            workers.stop()
            self.flush(peer)

    def rss(self, peer: Peer) -> float:
        """MB of VmRSS of an idle worker once its heartbeat is written, plus 1 s."""
        self.flush(peer)
        r = self.redis(peer)
        ns = peer.module.NAMESPACE
        workers = self.workers(peer, "noop")
        try:
            deadline = time.monotonic() + 30
            while not r.scard(f"{ns}:processes"):
                if time.monotonic() > deadline or workers.dead():
                    raise RuntimeError("jobkit worker wrote no heartbeat within 30 s")
                time.sleep(0.05)
            time.sleep(1.0)
            return harness.rss_mb(workers.pids[0])
        finally:
            workers.stop()
            self.flush(peer)


# -- rounds -------------------------------------------------------------------------------


def run_round(bench: Bench, peers: list[Peer], workloads: list[str], rnd: int, rounds: int,
              latency: bool, enqueue: bool = True) -> None:
    order = peers[rnd % len(peers):] + peers[:rnd % len(peers)]
    tag = f"[round {rnd + 1}/{rounds}]"
    for peer in order:
        if not enqueue or peer.key not in ("jobkit", "lpush"):
            continue  # enqueue rates: jobkit against the bare LPUSH floor
        single, bulk = SINGLE // peer.divisor, BULK // peer.divisor
        rate, cpu = bench.enqueue(peer, "enqueue_single", single)
        peer.add("single", rate)
        peer.add("single_cpu", cpu)
        print(f"{tag} {peer.key}: enqueue 1-by-1 {single:,} jobs: {rate:,.0f}/s, "
              f"{cpu:.2f} us CPU/job", flush=True)
        rate, cpu = bench.enqueue(peer, "enqueue_bulk", bulk)
        peer.add("bulk", rate)
        peer.add("bulk_cpu", cpu)
        print(f"{tag} {peer.key}: enqueue bulk {bulk:,} jobs: {rate:,.0f}/s, "
              f"{cpu:.2f} us CPU/job (load {os.getloadavg()[0]:.2f})", flush=True)
        if hasattr(peer.module, "paired"):
            bench.flush(peer)
            ratios = bench.run_child(peer, {"action": "paired", "n": single})["ratios"]
            bench.flush(peer)
            peer.add("paired", statistics.median(ratios))
            print(f"{tag} {peer.key}: jobkit/LPUSH paired, {len(ratios)} x 2 x 2,000 jobs: "
                  f"median ratio {statistics.median(ratios):.2f}", flush=True)
    for workload in workloads:
        for peer in order:
            n = peer.jobs(workload)
            why = peer.unsupported(workload)
            if not n or why:
                continue
            if hasattr(peer.module, "run"):  # a bare loop, no queue
                got = bench.bare(peer, workload, n)
            else:
                got = bench.process(peer, workload, n)
            for metric, value in got.items():
                peer.add(f"{workload}:{metric}", value)
            print(f"{tag} {peer.key} {workload}: {n:,} jobs, {got['rate']:,.0f}/s steady, "
                  f"{got['cpu']:.1f} us CPU/job, {got['cmds']:.2f} Redis cmds/job", flush=True)
    for peer in order:
        if latency and hasattr(peer.module, "enqueue_probe") and peer.key != "jobkit-2p":
            got = bench.latency(peer, random.Random(rnd))
            for metric, values in got.items():
                peer.runs.setdefault(f"latency:{metric}", []).extend(values)
            print(f"{tag} {peer.key} latency: p50 busy {1000 * _pct(got['busy'], 50):.2f} ms, "
                  f"after idle {1000 * _pct(got['idle'], 50):.2f} ms; idle "
                  f"{got['idle_cmds'][0]:.1f} cmds/s", flush=True)
        if peer.key == "jobkit":
            mb = bench.rss(peer)
            peer.add("rss", mb)
            print(f"{tag} jobkit: worker RSS at rest {mb:.1f} MB", flush=True)
            if not peer.unsupported("async-io-10ms") and any(
                    WORKLOADS[w].coroutine for w in workloads):
                mb = bench.rss_in_flight(peer)
                peer.add("rss_async", mb)
                print(f"{tag} jobkit: worker RSS with {RSS_IN_FLIGHT:,} coroutine jobs in "
                      f"flight {mb:.1f} MB", flush=True)


# -- report -------------------------------------------------------------------------------


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _spread(peer: Peer, metric: str, fmt: str = "{:,.0f}") -> str:
    values = peer.runs.get(metric)
    if not values:
        return "-"
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def report(peers: list[Peer], workloads: list[str], rounds: int, quick: bool, base: str) -> None:
    by = {p.key: p for p in peers}
    with redis.Redis.from_url(f"{base}/0") as r:
        server = r.info("server")
    print()
    print(f"jobkit benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
          f"{' (--quick)' if quick else ''}")
    print(f"Python {platform.python_version()}, Redis {server['redis_version']} at {base}, "
          f"{os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.2f}, "
          f"nice {os.nice(0)} (Redis, workers and children too, autogroups included)")
    print(_versions(peers))
    print(f"median of {rounds} round(s) (min-max); systems interleaved, order rotated per round")
    for p in peers:
        if p.skipped:
            print(f"  {p.key}: skipped, {p.skipped}")
    print()
    print("enqueue, no-op job (jobs/s; CPU us/job of the enqueuing process):")
    for key in ("jobkit", "lpush"):
        if key in by and not by[key].skipped and by[key].runs.get("bulk"):
            p = by[key]
            print(f"  {key:<8} 1-by-1 {_spread(p, 'single'):<28} "
                  f"{_spread(p, 'single_cpu', '{:.2f}'):>8} us   bulk {_spread(p, 'bulk'):<28} "
                  f"{_spread(p, 'bulk_cpu', '{:.2f}'):>8} us")
    for workload in workloads:
        w = WORKLOADS[workload]
        print()
        print(f"{workload}: {'coroutines' if w.coroutine else 'threads'} in flight per worker: "
              f"{w.concurrency}")
        print(f"  {'system':<10} {'jobs/s steady':>30} {'jobkit x':>9} {'CPU us/job':>11} "
              f"{'Redis cmds/job':>15} {'Redis us/job':>13}")
        jk = by["jobkit"].median(f"{workload}:rate") if "jobkit" in by else None
        for p in peers:
            if p.skipped or not p.jobs(workload):
                continue
            why = p.unsupported(workload)
            if why:
                print(f"  {p.key:<10} not run: {why}")
                continue
            med = p.median(f"{workload}:rate")
            ratio = f"{jk / med:.2f}x" if jk and med else "-"
            print(f"  {p.key:<10} {_spread(p, f'{workload}:rate'):>30} {ratio:>9} "
                  f"{_spread(p, f'{workload}:cpu', '{:.1f}'):>11} "
                  f"{_spread(p, f'{workload}:cmds', '{:.2f}'):>15} "
                  f"{_spread(p, f'{workload}:redis_cpu', '{:.1f}'):>13}")
    if any(p.runs.get("latency:busy") for p in peers):
        print()
        print("latency, enqueue to the job's first line, idle worker (ms): "
              f"{BUSY_PROBES} probes 10-40 ms apart and {IDLE_PROBES} 1-2 s apart per round")
        print(f"  {'system':<12} {'p50':>7} {'p90':>7} {'p99':>7}   after idle: {'p50':>7} "
              f"{'p90':>7} {'max':>7}   idle Redis cmds/s")
        for p in peers:
            busy, idle = p.runs.get("latency:busy"), p.runs.get("latency:idle")
            if not busy or not idle:
                continue
            cells = [1000 * _pct(busy, q) for q in (50, 90, 99)] + [
                1000 * _pct(idle, q) for q in (50, 90, 100)]
            print(f"  {p.key:<12} " + " ".join(f"{c:7.2f}" for c in cells[:3]) + "   "
                  + " " * 12 + " ".join(f"{c:7.2f}" for c in cells[3:])
                  + f"   {_spread(p, 'latency:idle_cmds', '{:.1f}')}")
    print()
    print("worker setups (C = the workload's concurrency):")
    for p in peers:
        if not p.skipped:
            print(f"  {p.key:<10} {p.module.WORKER}")
    print()
    print_targets(by)


def _versions(peers: list[Peer]) -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for dist in ("redis", "hiredis", "rq", "dramatiq", "celery", "huey", "saq", "taskiq",
                 "taskiq-redis"):
        with contextlib.suppress(PackageNotFoundError):
            parts.append(f"{dist} {version(dist)}")
    for p in peers:
        if p.key == "arq" and not p.skipped:
            code = "from importlib.metadata import version as v; print(f\"arq {v('arq')}\")"
            out = subprocess.run([p.module.PYTHON, "-c", code], capture_output=True, text=True,
                                 check=False)
            parts.append(out.stdout.strip() or "arq ?")
        if p.key == "sidekiq" and not p.skipped:
            parts.append(f"Sidekiq {p.module.version()}")
    return ", ".join(parts)


def print_targets(by: dict[str, Peer]) -> None:
    def med(key: str, metric: str) -> float | None:
        return by[key].median(metric) if key in by and not by[key].skipped else None

    def best(keys: tuple[str, ...], *metrics: str) -> tuple[float | None, str]:
        found = [(v, f"{k} {m.split(':')[0]}") for k in keys for m in metrics
                 if (v := med(k, m))]
        return max(found) if found else (None, "none measured")

    # name, value, goal, at least (else at most), a ratio (shown as 1.23x)?
    rows: list[tuple[str, float | None, float, bool, bool]] = []

    def ratio(name: str, a: float | None, b: float | None, goal: float) -> None:
        rows.append((name, a / b if a and b else None, goal, True, True))

    jk = "jobkit"
    value, who = best(THREADED_PEERS, "redis-call:rate")
    ratio("redis-call: jobkit / bare loop (10 threads)", med(jk, "redis-call:rate"),
          med("bare", "redis-call:rate"), 0.8)
    ratio("redis-call: jobkit / bare loop on one CPU, as jobkit runs",
          med(jk, "redis-call:rate"), med("bare-1cpu", "redis-call:rate"), 0.8)
    ratio(f"redis-call: jobkit / best threaded peer ({who})", med(jk, "redis-call:rate"),
          value, 1.5)
    value, who = best(tuple(k for k in PEERS if k not in VARIANTS),
                      "noop:rate")
    ratio(f"noop: jobkit / best peer ({who})", med(jk, "noop:rate"), value, 3.0)
    runs = by[jk].runs.get("noop:rate") if jk in by else None
    ratio("noop: slowest / fastest jobkit round", min(runs) if runs else None,
          max(runs) if runs else None, 0.75)
    rows.append(("noop: jobkit worker CPU, us/job", med(jk, "noop:cpu"), 10.0, False, False))
    ratio("io-10ms: jobkit / ideal (100 threads x 100/s)", med(jk, "io-10ms:rate"), 10_000, 0.85)
    value, who = best(tuple(k for k in PEERS if k not in VARIANTS),
                      "redis-call:rate", "async-redis-call:rate")
    ratio(f"async-redis-call: jobkit / best peer variant ({who})",
          med(jk, "async-redis-call:rate"), value, 2.0)
    ratio("async-redis-call: jobkit / bare asyncio loop", med(jk, "async-redis-call:rate"),
          med("bare", "async-redis-call:rate"), 0.7)
    ratio("async-redis-call: jobkit / bare asyncio loop on one CPU",
          med(jk, "async-redis-call:rate"), med("bare-1cpu", "async-redis-call:rate"), 0.7)
    rows.append(("async-io-10ms: jobkit jobs/s (1,000 in flight)",
                 med(jk, "async-io-10ms:rate"), 20_000, True, False))
    value, who = best(ASYNC_PEERS, "async-io-10ms:rate")
    ratio(f"async-io-10ms: jobkit / best async peer ({who})", med(jk, "async-io-10ms:rate"),
          value, 3.0)
    lat = by[jk].runs if jk in by else {}
    for phase in ("busy", "idle"):
        values = lat.get(f"latency:{phase}")
        label = "idle worker" if phase == "busy" else "after 1-2 s idle"
        rows.append((f"latency p50 ms, {label}", 1000 * _pct(values, 50) if values else None,
                     1.0, False, False))
        rows.append((f"latency p99 ms, {label}", 1000 * _pct(values, 99) if values else None,
                     3.0, False, False))
    rows.append(("idle worker Redis commands/s", med(jk, "latency:idle_cmds"), 1.0, False,
                 False))
    ratio("bulk enqueue: jobkit / pipelined LPUSH of the same bytes", med(jk, "bulk"),
          med("lpush", "bulk"), 0.6)
    rows.append(("bulk enqueue, jobs/s", med(jk, "bulk"), 100_000, True, False))
    ratio("1-by-1 enqueue: jobkit / bare LPUSH (paired)", med("lpush", "paired"), 1.0, 0.7)
    rows.append(("jobkit worker RSS at rest, MB", med(jk, "rss"), 50.0, False, False))
    rows.append((f"jobkit worker RSS, {RSS_IN_FLIGHT:,} coroutine jobs in flight, MB",
                 med(jk, "rss_async"), 150.0, False, False))
    print(f"{'target':<62} {'measured':>10} {'goal':>10}  result")
    for name, value_, goal, at_least, is_ratio in rows:
        if value_ is None:
            shown = "-"
        elif is_ratio:
            shown = f"{value_:.2f}x"
        else:
            shown = f"{value_:,.0f}" if value_ >= 1000 else f"{value_:.2f}"
        op = ">=" if at_least else "<="
        ok = None if value_ is None else (value_ >= goal if at_least else value_ <= goal)
        verdict = "not measured" if ok is None else ("MET" if ok else "MISSED")
        print(f"{name:<62} {shown:>10} {op} {goal:<8g}  {verdict}")
    for peer in ("sidekiq", "huey"):
        values, ours = (by[peer].runs.get("latency:busy") if peer in by else None,
                        lat.get("latency:busy"))
        if values and ours:
            print(f"(latency p50 jobkit {1000 * _pct(ours, 50):.2f} ms vs {peer} "
                  f"{1000 * _pct(values, 50):.2f} ms; p99 {1000 * _pct(ours, 99):.2f} vs "
                  f"{1000 * _pct(values, 99):.2f})")
    # The floor: Redis, the loopback and the machine waking a blocked thread; and the
    # workers without the enqueuing client's share (probes pushed by a plain LPUSH).
    for key in ("bare-wake", "jobkit-lpush", "sidekiq-lpush"):
        values = by[key].runs.get("latency:idle") if key in by else None
        if values:
            print(f"(after 1-2 s idle, {by[key].module.NAME}: p50 {1000 * _pct(values, 50):.2f} "
                  f"ms, p99 {1000 * _pct(values, 99):.2f} ms)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"1/{QUICK_DIVISOR} of the jobs and one round (smoke run)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(PEERS)}")
    parser.add_argument("--workloads", help=f"comma-separated subset of: {ENQUEUE} (the "
                        f"enqueue rates), {', '.join(WORKLOADS)}")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, or 1 with --quick)")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency probes")
    parser.add_argument("--redis-url", help="a Redis whose databases 4-15 may be flushed "
                        "(default: a private redis-server started for the run)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    keys = [k.strip() for k in (args.only or ",".join(PEERS)).split(",") if k.strip()]
    unknown = [k for k in keys if k not in PEERS]
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    workloads = [w.strip() for w in (args.workloads or ",".join(WORKLOADS)).split(",")]
    bad = [w for w in workloads if w not in WORKLOADS and w != ENQUEUE]
    if bad:
        parser.error(f"--workloads: unknown {', '.join(bad)}; choose from {ENQUEUE}, "
                     f"{', '.join(WORKLOADS)}")
    # The enqueue rates run with every workload unless --workloads names which to run.
    enqueue = not args.workloads or ENQUEUE in workloads
    workloads = [w for w in workloads if w != ENQUEUE]
    rounds = args.rounds or (1 if args.quick else 5)
    if rounds < 1:
        parser.error(f"--rounds={rounds} must be at least 1")
    peers = []
    for key in keys:
        try:
            module = importlib.import_module(f"bench.peers.{PEERS[key]}")
        except ImportError as e:
            print(f"{key}: skipped, cannot import ({e}); pip install -r bench/requirements.txt")
            continue
        peer = Peer(key, module, QUICK_DIVISOR if args.quick else 1)
        if hasattr(module, "available"):
            peer.skipped = module.available()
        if key == "arq" and not Path(module.PYTHON).exists():
            peer.skipped = f"no arq environment at {module.PYTHON} (BENCH_ARQ_PYTHON)"
        peers.append(peer)
    active = [p for p in peers if not p.skipped]
    with contextlib.ExitStack() as stack:
        base = args.redis_url or stack.enter_context(harness.private_redis())
        bench = Bench(base.rstrip("/"))
        for rnd in range(rounds):
            began = time.monotonic()
            run_round(bench, active, workloads, rnd, rounds, not args.no_latency, enqueue)
            print(f"[round {rnd + 1}/{rounds}] took {time.monotonic() - began:.0f}s", flush=True)
        report(peers, workloads, rounds, args.quick, bench.base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
