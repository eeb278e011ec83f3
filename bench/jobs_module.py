"""The no-op job that ``jobkit worker -r bench.jobs_module`` runs in bench/throughput.py.

``name = "NoopJob"`` makes the payload's ``"class"`` the plain name, so the Sidekiq peer
(bench/sidekiq_job.rb) runs the very same payloads.
"""

from __future__ import annotations

import jobkit


class NoopJob(jobkit.Job):
    """Does nothing with one int argument: the benchmark measures the runtime, not the job."""

    name = "NoopJob"

    def perform(self, n: int) -> None:
        pass
