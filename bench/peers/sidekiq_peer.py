"""Sidekiq 6.4 (Ruby): processing only, of Sidekiq-format jobs that jobkit enqueues.

Needs ``ruby`` and the ``sidekiq`` gem (Debian: ``apt-get install ruby-sidekiq``).
"""

from __future__ import annotations

import shutil
import subprocess

import redis

NAME = "sidekiq"
DB = 11
WORKER = "sidekiq -r ./bench/sidekiq_job.rb -c C (1 Ruby process, C threads, basic fetch)"
enqueue_single = None
enqueue_bulk = None
JOBS = {"noop": 20_000, "redis-call": 10_000, "io-10ms": 20_000}


def available() -> str | None:
    """None when Sidekiq can run, else why not."""
    if shutil.which("ruby") is None or shutil.which("sidekiq") is None:
        return "ruby or the sidekiq command is not installed (apt-get install ruby-sidekiq)"
    out = subprocess.run(["ruby", "-e", 'require "sidekiq"; puts Sidekiq::VERSION'],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return f"the sidekiq gem does not load: {out.stderr.strip()[:200]}"
    return None


def version() -> str:
    out = subprocess.run(["ruby", "-e", 'require "sidekiq"; puts Sidekiq::VERSION'],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip()


def setup(url: str) -> None:
    import jobkit

    # No namespace: Sidekiq reads queue:default and queues at the top of its database.
    jobkit.configure(redis_url=url, namespace="")


def fill(workload: str, n: int) -> None:
    from bench.jobs_module import JOBS

    JOBS[workload].perform_bulk([[i] for i in range(n)])


def enqueue_probe(enqueued_at: float) -> None:
    from bench.jobs_module import ProbeJob

    ProbeJob.perform_async(enqueued_at)


def worker_command(url: str, workload: str = "noop") -> tuple[list[str], dict[str, str]]:
    from bench.workloads import WORKLOADS

    return (["sidekiq", "-r", "./bench/sidekiq_job.rb", "-c",
             str(WORKLOADS[workload].concurrency)],
            {"REDIS_URL": url, "BENCH_REDIS_URL": url})


def remaining(r: redis.Redis, n: int, workload: str = "noop") -> int:
    # Sidekiq's stat:processed is flushed only every 5 s, so count the queue: a fetched job
    # runs at once (basic fetch; at most C jobs in flight when this reads 0).
    return int(r.llen("queue:default"))
