"""``python -m tests.chaos``: the chaos scenarios with bigger numbers than CI's.

    python -m tests.chaos --jobs 20000 --workers 4 --kill-interval 0.3 --garbage 2000
    python -m tests.chaos --only kill-workers --only garbage

Prints one summary line per scenario; exits 1 if any scenario's checks failed. Uses the Redis
at $JOBKIT_TEST_REDIS_URL (default redis://127.0.0.1:6379/0) under a fresh namespace, and
starts its own redis-server for the restart scenario."""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from tests.conftest import REAL_REDIS_URL

from . import scenarios

SCENARIOS = ("kill-workers", "kill-workers-adaptive", "restart-redis", "garbage",
             "parser-edge-garbage", "sigterm-long-job")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=20_000, help="jobs per run (default: 20000)")
    p.add_argument("--workers", type=int, default=4, help="worker processes (default: 4)")
    p.add_argument("--concurrency", type=int, default=5, help="threads per worker (default: 5)")
    p.add_argument("--kill-interval", type=float, default=0.3,
                   help="seconds between SIGKILLs (default: 0.3)")
    p.add_argument("--garbage", type=int, default=2000,
                   help="garbage payloads (default: 2000)")
    p.add_argument("--redis-down", type=float, default=1.0,
                   help="seconds the private Redis stays down (default: 1.0)")
    p.add_argument("--only", action="append", choices=SCENARIOS,
                   help="run only this scenario (repeatable)")
    p.add_argument("--redis-url", default=REAL_REDIS_URL, help="the shared Redis to use")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name in ("jobs", "workers", "concurrency", "garbage"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name}={getattr(args, name)} must be at least 1")
    if args.kill_interval <= 0:
        raise SystemExit(f"--kill-interval={args.kill_interval} must be positive")
    url = args.redis_url
    timeout = max(60.0, args.jobs / 50)
    runs: dict[str, Callable[[str, Path], scenarios.Result]] = {
        "kill-workers": lambda ns, d: scenarios.kill_workers(
            url, ns, d, jobs=args.jobs, workers=args.workers, kill_interval=args.kill_interval,
            concurrency=args.concurrency, timeout=timeout),
        # No --prefetch, as users run it; fast jobs so each process holds dozens.
        "kill-workers-adaptive": lambda ns, d: scenarios.kill_workers(
            url, ns, d, jobs=args.jobs * 4, workers=args.workers,
            kill_interval=args.kill_interval, concurrency=args.concurrency,
            adaptive_prefetch=True, max_sleep_ms=4, timeout=timeout),
        "restart-redis": lambda ns, d: scenarios.restart_redis(
            d, jobs=args.jobs, workers=args.workers, down=args.redis_down,
            concurrency=args.concurrency, timeout=timeout),
        "garbage": lambda ns, d: scenarios.garbage_payloads(
            url, ns, d, garbage_count=args.garbage, good=max(1, args.jobs // 10),
            timeout=timeout),
        "parser-edge-garbage": lambda ns, d: scenarios.garbage_payloads(
            url, ns, d, garbage_count=20, good=100, kinds=scenarios.PARSER_EDGE_KINDS,
            timeout=10),
        "sigterm-long-job": lambda ns, d: scenarios.sigterm_long_job(url, ns, d),
    }
    failed = 0
    for name in args.only or SCENARIOS:
        namespace = f"chaos-{uuid.uuid4().hex[:12]}"
        with tempfile.TemporaryDirectory(prefix=f"jobkit-{name}-") as workdir:
            try:
                result = runs[name](namespace, Path(workdir))
            finally:
                _cleanup(url, namespace)
        print(result.report() if result.problems else result.summary(), flush=True)
        failed += bool(result.problems)
    return 1 if failed else 0


def _cleanup(url: str, namespace: str) -> None:
    r = redis.Redis.from_url(url)
    keys = list(r.scan_iter(match=f"{namespace}:*", count=1000))
    if keys:
        r.delete(*keys)
    r.close()


if __name__ == "__main__":
    sys.exit(main())
