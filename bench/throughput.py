"""Throughput of jobkit against RQ, Dramatiq, arq, Celery, huey and Sidekiq, on one Redis.

Run (from the repository root, in the bench environment of bench/README.md):

    python bench/throughput.py [--quick] [--only jobkit,rq,...] [--rounds 3]

No-op jobs with one int argument. For each system, in its own Redis database (flushed before
and after every run): the enqueue rate one call at a time and through its own bulk API, and
the processing rate of ONE worker process started after the backlog is enqueued, timed from
the worker's start until Redis shows the backlog drained (start-up included, nothing
subtracted). Also a bare redis-py LPUSH loop of jobkit-sized payloads, jobkit's worker RSS at
rest, and jobkit with ``--processes 2``. Every measurement runs in a fresh subprocess; each round
runs every system once, in an order rotated per round, and the table shows the median of the
rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
REDIS_BASE = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")

#: --only name -> module under bench/peers; the order of the table.
PEERS = {
    "jobkit": "jobkit_peer",
    "lpush": "lpush_peer",
    "rq": "rq_peer",
    "dramatiq": "dramatiq_peer",
    "arq": "arq_peer",
    "celery": "celery_peer",
    "huey": "huey_peer",
    "sidekiq": "sidekiq_peer",
    "jobkit-2p": "jobkit2_peer",
}
PYTHON_PEERS = ("rq", "dramatiq", "arq", "celery", "huey")

#: Jobs per run (1-by-1 enqueue, bulk enqueue, processing): about 2-5 s per run on the
#: 2-core machine of bench/README.md.
COUNTS = {
    "jobkit": (20_000, 200_000, 200_000),
    "lpush": (20_000, 0, 0),  # as jobkit: run length changes the rate on this machine
    "rq": (5_000, 20_000, 1_000),
    "dramatiq": (10_000, 0, 10_000),
    "arq": (5_000, 0, 5_000),
    "celery": (2_000, 5_000, 3_000),
    "huey": (20_000, 0, 10_000),
    "sidekiq": (0, 0, 20_000),
    "jobkit-2p": (0, 0, 400_000),
}
QUICK_DIVISOR = 20

TARGET_VS_PYTHON = 3.0
TARGET_VS_LPUSH = 0.7
TARGET_BULK = 100_000.0
TARGET_RSS_MB = 50.0
TARGET_VS_SIDEKIQ = 2.0
TARGET_2P = 1.6

DRAIN_TIMEOUT = 300.0
POLL = 0.005


@dataclass
class Peer:
    key: str
    module: ModuleType
    counts: tuple[int, int, int]
    runs: dict[str, list[float]] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def url(self) -> str:
        return f"{REDIS_BASE}/{self.module.DB}"

    def median(self, metric: str) -> float | None:
        values = self.runs.get(metric)
        return statistics.median(values) if values else None


# -- child side: one timed enqueue in a fresh interpreter ---------------------------------


def child(module_name: str, action: str, n: int) -> None:
    """Run ``action`` of one peer and print the seconds it took as JSON (called via --child)."""
    mod = importlib.import_module(f"bench.peers.{module_name}")
    mod.setup(os.environ["BENCH_REDIS_URL"])
    call = getattr(mod, action)
    if action == "paired":
        print(json.dumps({"ratios": call(n)}))
        return
    if action != "fill":
        call(min(100, n))  # warm-up: imports, connection, scripts; flushed with the rest
    start = time.perf_counter()
    call(n)
    print(json.dumps({"seconds": time.perf_counter() - start}))


# -- parent side --------------------------------------------------------------------------


def _env(peer: Peer, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["BENCH_REDIS_URL"] = peer.url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def _flush(peer: Peer) -> None:
    redis.Redis.from_url(peer.url).flushdb()


def run_child(peer: Peer, action: str, n: int) -> Any:
    python = getattr(peer.module, "PYTHON", None) or sys.executable
    out = subprocess.run(
        [python, str(Path(__file__).resolve()), "--child", peer.module.__name__.rsplit(
            ".", 1)[1], action, str(n)],
        cwd=ROOT, env=_env(peer), capture_output=True, text=True, check=False, timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{peer.key} {action}({n}) failed:\n{out.stderr[-2000:]}")
    reply = json.loads(out.stdout.strip().splitlines()[-1])
    return reply.get("seconds", reply)


def measure_enqueue(peer: Peer, action: str, n: int) -> float:
    _flush(peer)
    try:
        return n / run_child(peer, action, n)
    finally:
        _flush(peer)


def _supports_processes() -> bool:
    out = subprocess.run([sys.executable, "-m", "jobkit", "worker", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    return "--processes" in out.stdout


def _start_workers(peer: Peer, log: Any) -> list[subprocess.Popen[bytes]]:
    if peer.key == "jobkit-2p" and not _supports_processes():
        # Before `jobkit worker --processes` existed: two plain worker processes.
        argv, extra = importlib.import_module("bench.peers.jobkit_peer").worker_command(peer.url)
        commands = [(argv, extra), (argv, extra)]
    else:
        commands = [peer.module.worker_command(peer.url)]
    return [
        subprocess.Popen(argv, cwd=ROOT, env=_env(peer, extra), stdout=log, stderr=log,
                         start_new_session=True)
        for argv, extra in commands
    ]


def _stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            # Our own process group (start_new_session): the worker and any children it forked.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


def measure_processing(peer: Peer, n: int) -> tuple[float, float]:
    """(jobs/s from worker start to drained, seconds until the first job was done)."""
    _flush(peer)
    r = redis.Redis.from_url(peer.url)
    run_child(peer, "fill", n)
    backlog = peer.module.remaining(r, n)
    if backlog != n:
        raise RuntimeError(f"{peer.key}: {backlog} jobs in the backlog, expected {n}")
    with tempfile.NamedTemporaryFile("w+b", prefix=f"bench-{peer.key}-", suffix=".log",
                                     delete=False) as log:
        start = time.perf_counter()
        procs = _start_workers(peer, log)
        first = None
        try:
            while True:
                left = peer.module.remaining(r, n)
                now = time.perf_counter()
                if first is None and left < n:
                    first = now - start
                if left <= 0:
                    break
                if now - start > DRAIN_TIMEOUT or any(p.poll() is not None for p in procs):
                    log.flush()
                    tail = Path(log.name).read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{peer.key}: {left} of {n} jobs left after "
                                       f"{now - start:.0f}s; worker log {log.name}:\n{tail}")
                time.sleep(POLL)
            elapsed = time.perf_counter() - start
        finally:
            _stop_workers(procs)
            _flush(peer)
    os.unlink(log.name)
    return n / elapsed, first or elapsed


def measure_rss(peer: Peer) -> float:
    """MB of VmRSS of an idle ``jobkit worker`` once its heartbeat is written, plus 1 s."""
    _flush(peer)
    r = redis.Redis.from_url(peer.url)
    ns = importlib.import_module("bench.peers.jobkit_peer").NAMESPACE
    procs = _start_workers(peer, subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not r.scard(f"{ns}:processes"):
            if time.monotonic() > deadline:
                raise RuntimeError("jobkit worker wrote no heartbeat within 30 s")
            time.sleep(0.05)
        time.sleep(1.0)
        status = Path(f"/proc/{procs[0].pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines()
                  if line.startswith("VmRSS:"))
        return kb / 1024
    finally:
        _stop_workers(procs)
        _flush(peer)


def run_round(peers: list[Peer], rnd: int, rounds: int) -> None:
    order = peers[rnd % len(peers):] + peers[:rnd % len(peers)]
    for peer in order:
        single, bulk, _ = peer.counts
        label = f"[round {rnd + 1}/{rounds}] {peer.key}"
        if single and peer.module.enqueue_single is not None:
            rate = measure_enqueue(peer, "enqueue_single", single)
            peer.runs.setdefault("single", []).append(rate)
            print(f"{label}: enqueue 1-by-1 {single:,} jobs: {rate:,.0f}/s", flush=True)
        if single and hasattr(peer.module, "paired"):
            _flush(peer)
            ratios = run_child(peer, "paired", single)["ratios"]
            _flush(peer)
            peer.runs.setdefault("paired", []).append(statistics.median(ratios))
            print(f"{label}: jobkit/LPUSH paired in one process, {len(ratios)} x 2 x 2,000 jobs: "
                  f"median ratio {statistics.median(ratios):.2f}", flush=True)
        if bulk and peer.module.enqueue_bulk is not None:
            rate = measure_enqueue(peer, "enqueue_bulk", bulk)
            peer.runs.setdefault("bulk", []).append(rate)
            print(f"{label}: enqueue bulk {bulk:,} jobs: {rate:,.0f}/s", flush=True)
    for peer in order:
        n = peer.counts[2]
        if n and peer.module.worker_command(peer.url) is not None:
            rate, first = measure_processing(peer, n)
            peer.runs.setdefault("process", []).append(rate)
            peer.runs.setdefault("first", []).append(first)
            print(f"[round {rnd + 1}/{rounds}] {peer.key}: processed {n:,} jobs: {rate:,.0f}/s "
                  f"(first job done after {first:.2f}s)", flush=True)
        if peer.key == "jobkit":
            mb = measure_rss(peer)
            peer.runs.setdefault("rss", []).append(mb)
            print(f"[round {rnd + 1}/{rounds}] jobkit: worker RSS at rest {mb:.1f} MB", flush=True)


# -- report -------------------------------------------------------------------------------


def _rate(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def _versions(peers: list[Peer]) -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for dist in ("redis", "hiredis", "rq", "dramatiq", "celery", "kombu", "huey"):
        with contextlib.suppress(PackageNotFoundError):
            parts.append(f"{dist} {version(dist)}")
    for p in peers:
        if p.key == "arq" and not p.skipped:
            code = ("from importlib.metadata import version as v; print(f\"arq {v('arq')} "
                    "(own env: redis {v('redis')}, hiredis {v('hiredis')})\")")
            out = subprocess.run([p.module.PYTHON, "-c", code], capture_output=True, text=True,
                                 check=False)
            parts.append(out.stdout.strip() or "arq ?")
        if p.key == "sidekiq" and not p.skipped:
            parts.append(f"Sidekiq {p.module.version()} (Ruby {platform_ruby()})")
    return ", ".join(parts)


def platform_ruby() -> str:
    out = subprocess.run(["ruby", "-e", "print RUBY_VERSION"], capture_output=True, text=True,
                         check=False)
    return out.stdout.strip()


def report(peers: list[Peer], rounds: int, quick: bool) -> None:
    by = {p.key: p for p in peers}
    jk = by.get("jobkit")
    base = {m: jk.median(m) if jk else None for m in ("single", "bulk", "process")}
    info = redis.Redis.from_url(f"{REDIS_BASE}/0").info("server")
    print()
    print(f"jobkit throughput benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
          f"{' (--quick)' if quick else ''}")
    print(f"Python {platform.python_version()}, Redis {info['redis_version']} at {REDIS_BASE}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(_versions(peers))
    print(f"median of {rounds} round(s); systems interleaved, order rotated each round; "
          "'jobkit x' = jobkit's median / this row's median")
    print()
    head = (f"{'system':<12} {'enqueue 1-by-1':>15} {'jobkit x':>9} {'enqueue bulk':>13} "
            f"{'jobkit x':>9} {'process 1 worker':>17} {'jobkit x':>9}")
    print(head)
    print(f"{'':<12} {'jobs/s':>15} {'':>9} {'jobs/s':>13} {'':>9} {'jobs/s':>17}")
    print("-" * len(head))
    for p in peers:
        if p.skipped:
            print(f"{p.key:<12} skipped: {p.skipped}")
            continue
        cells = []
        for metric in ("single", "bulk", "process"):
            v = p.median(metric)
            cells += [_rate(v), _ratio(base[metric], v) if v else ""]
        print(f"{p.key:<12} {cells[0]:>15} {cells[1]:>9} {cells[2]:>13} {cells[3]:>9} "
              f"{cells[4]:>17} {cells[5]:>9}")
    print()
    print("jobs per run (1-by-1 / bulk / processing) and worker setup:")
    for p in peers:
        if not p.skipped:
            counts = " / ".join(f"{c:,}" if c else "-" for c in p.counts)
            print(f"  {p.key:<10} {counts:<28} {p.module.WORKER}")
    print()
    print("raw runs, in round order (jobs/s; 'paired' = median jobkit/LPUSH ratio of the round; "
          "'first' = s from worker start to first job done; 'rss' = MB):")
    for p in peers:
        for metric in ("single", "paired", "bulk", "process", "first", "rss"):
            if p.runs.get(metric):
                fmt = "{:.2f}" if metric in ("first", "rss", "paired") else "{:,.0f}"
                print(f"  {p.key:<10} {metric:<8} " + ", ".join(fmt.format(v)
                                                               for v in p.runs[metric]))
    print()
    print_targets(by)


def print_targets(by: dict[str, Peer]) -> None:
    def med(key: str, metric: str) -> float | None:
        return by[key].median(metric) if key in by else None

    rows: list[tuple[str, float | None, str, bool | None]] = []
    jk_proc = med("jobkit", "process")
    pythons = [(med(k, "process"), k) for k in PYTHON_PEERS if med(k, "process")]
    best, best_name = max(pythons) if pythons else (None, "none measured")
    r = jk_proc / best if jk_proc and best else None
    rows.append((f"jobkit processing / fastest Python peer ({best_name})", r,
                 f">= {TARGET_VS_PYTHON:g}x", None if r is None else r >= TARGET_VS_PYTHON))
    r = med("lpush", "paired")
    rows.append(("jobkit 1-by-1 enqueue / bare LPUSH (paired, one process)", r,
                 f">= {TARGET_VS_LPUSH:g}x", None if r is None else r >= TARGET_VS_LPUSH))
    bulk = med("jobkit", "bulk")
    rows.append(("jobkit bulk enqueue, jobs/s", bulk, f">= {TARGET_BULK:,.0f}",
                 None if bulk is None else bulk >= TARGET_BULK))
    rss = med("jobkit", "rss")
    rows.append(("jobkit worker RSS at rest, MB", rss, f"<= {TARGET_RSS_MB:g}",
                 None if rss is None else rss <= TARGET_RSS_MB))
    sk = med("sidekiq", "process")
    r = jk_proc / sk if jk_proc and sk else None
    rows.append(("jobkit processing / Sidekiq 6.4 (-c 10)", r, f">= {TARGET_VS_SIDEKIQ:g}x",
                 None if r is None else r >= TARGET_VS_SIDEKIQ))
    two = med("jobkit-2p", "process")
    r = two / jk_proc if two and jk_proc else None
    rows.append(("jobkit 2 processes / 1 process", r, f">= {TARGET_2P:g}x",
                 None if r is None else r >= TARGET_2P))
    print(f"{'target':<56} {'measured':>10} {'goal':>10}  result")
    for name, value, goal, ok in rows:
        if value is None:
            shown = "-"
        elif "jobs/s" in name:
            shown = f"{value:,.0f}"
        elif "MB" in name:
            shown = f"{value:.1f}"
        else:
            shown = f"{value:.2f}x"
        verdict = "not measured" if ok is None else ("MET" if ok else "MISSED")
        print(f"{name:<56} {shown:>10} {goal:>10}  {verdict}")
    single, lpush = med("jobkit", "single"), med("lpush", "single")
    if single and lpush:
        print(f"(1-by-1 enqueue from the table's separate runs: jobkit / LPUSH = "
              f"{single / lpush:.2f}x; the paired figure is the one less exposed to drift)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"1/{QUICK_DIVISOR} of the job counts and one round (smoke run)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(PEERS)}")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, or 1 with --quick)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if args.child:
        module, action, n = args.child
        child(module, action, int(n))
        return 0
    keys = list(PEERS)
    if args.only:
        keys = [k.strip() for k in args.only.split(",") if k.strip()]
        unknown = [k for k in keys if k not in PEERS]
        if unknown:
            parser.error(f"--only: unknown {', '.join(unknown)}; choose from {', '.join(PEERS)}")
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
        counts = COUNTS[key]
        if args.quick:
            counts = tuple(max(200, c // QUICK_DIVISOR) if c else 0 for c in counts)  # type: ignore[assignment]
        peer = Peer(key, module, counts)
        if key == "sidekiq":
            peer.skipped = module.available()
            if peer.skipped:
                print(f"sidekiq: skipped, {peer.skipped}")
        peers.append(peer)
    active = [p for p in peers if not p.skipped]
    for rnd in range(rounds):
        began = time.monotonic()
        run_round(active, rnd, rounds)
        print(f"[round {rnd + 1}/{rounds}] took {time.monotonic() - began:.0f}s", flush=True)
    report(peers, rounds, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
