"""The demo's jobs: a small shop's orders and receipts, a flaky inventory sync, a corrupt
legacy import, an end-of-day report and a periodic exchange-rates refresh.

Importing this module registers the classes, as any job module does. The periodic entry is
*not* registered globally (:func:`rates_entry` builds it for the demo's own worker): every
worker in a process that imported the demo would otherwise tick it.
"""

from __future__ import annotations

import random
import time

from .cron import build_schedule
from .job import Job
from .periodic_entries import Entry

QUEUES = (("critical", 3), ("default", 2), ("mailers", 1))
#: Seconds the demo's failing jobs wait before each retry. Sidekiq's default backoff would wait
#: 15 to 24 s before the first retry and longer after, far too long for a demo.
RETRY_IN = 0.3
#: Seconds between two ticks of the periodic entry (the shortest ``every`` allowed).
TICK_EVERY = 1
SKU = "SKU-1042"
LEGACY_ID = "LEGACY-77"
REPORT_DAY = "2026-11-29"


class GatewayTimeout(Exception):
    """The (simulated) warehouse API did not answer in time."""


class _QuickRetries:
    """Retries after ``RETRY_IN`` seconds exactly (no jitter): the demo must not wait."""

    retry_jitter = False

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float:
        return RETRY_IN


class ProcessOrderJob(Job):
    """Charges an order: a short call to a (simulated) payment gateway."""

    name = "demo.ProcessOrderJob"
    queue = "critical"
    retry = 3

    def perform(self, order_id: int) -> None:
        time.sleep(random.uniform(0.001, 0.004))


class SendReceiptJob(Job):
    """Sends the receipt e-mail for an order."""

    name = "demo.SendReceiptJob"
    queue = "mailers"

    def perform(self, order_id: int, email: str) -> None:
        time.sleep(random.uniform(0.0005, 0.002))


class SyncInventoryJob(_QuickRetries, Job):
    """Pushes stock levels to a flaky warehouse API: times out twice, then succeeds."""

    name = "demo.SyncInventoryJob"
    retry = 5

    def perform(self, sku: str) -> None:
        # retry_count is None on the first attempt, 0 on the first retry, 1 on the second.
        if self.retry_count is None or self.retry_count < 1:
            raise GatewayTimeout(f"warehouse API timed out syncing {sku}")


class ImportLegacyOrderJob(_QuickRetries, Job):
    """Imports an order from a legacy system whose record is corrupt: it always fails, and
    dies once its two retries are used up."""

    name = "demo.ImportLegacyOrderJob"
    retry = 2

    def perform(self, legacy_id: str) -> None:
        raise ValueError(f"legacy order {legacy_id} has no customer")


class DailyReportJob(Job):
    """Builds the end-of-day report; the demo schedules it a second ahead."""

    name = "demo.DailyReportJob"

    def perform(self, day: str) -> None:
        time.sleep(0.005)


class RefreshRatesJob(Job):
    """Refreshes currency exchange rates; a periodic entry runs it every second."""

    name = "demo.RefreshRatesJob"

    def perform(self) -> None:
        time.sleep(0.001)


def rates_entry() -> Entry:
    """The demo's periodic entry: :class:`RefreshRatesJob` every ``TICK_EVERY`` seconds."""
    schedule = build_schedule(every=TICK_EVERY, owner="jobkit demo")
    return Entry("demo.refresh-rates", RefreshRatesJob, schedule)
