"""Sidekiq 6.4 (Ruby): processing only, of Sidekiq-format jobs that jobkit enqueues.

Needs ``ruby`` and the ``sidekiq`` gem (Debian: ``apt-get install ruby-sidekiq``).
"""

from __future__ import annotations

import shutil
import subprocess

import redis

NAME = "sidekiq"
DB = 11
WORKER = "sidekiq -r ./bench/sidekiq_job.rb -c 10 (1 Ruby process, 10 threads, basic fetch)"
enqueue_single = None
enqueue_bulk = None


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


def fill(n: int) -> None:
    from bench.jobs_module import NoopJob

    NoopJob.perform_bulk([[i] for i in range(n)])


def worker_command(url: str) -> tuple[list[str], dict[str, str]]:
    return ["sidekiq", "-r", "./bench/sidekiq_job.rb", "-c", "10"], {"REDIS_URL": url}


def remaining(r: redis.Redis, n: int) -> int:
    # Sidekiq's stat:processed is flushed only every 5 s, so count the queue: a fetched job
    # runs at once (basic fetch; at most 10 no-op jobs in flight when this reads 0).
    return int(r.llen("queue:default"))
