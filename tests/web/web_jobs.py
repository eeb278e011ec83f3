"""Jobs the dashboard tests run on a real worker: each records what it did in Redis under the
test's namespace, so a test can see that a job ran after a click."""

from __future__ import annotations

import threading

import jobkit


def _record(key: str, value: object) -> None:
    client = jobkit.get_client()
    client.redis.rpush(f"{client.settings.namespace}:test:{key}", repr(value))


class ChargeCard(jobkit.Job):
    """Fails while ``fail`` is true (so it lands in retry or dead), then records its order."""

    name = "shop.ChargeCard"
    queue = "critical"
    retry = 2
    backtrace = 10
    fail = True

    def perform(self, order_id: int, amount: str) -> None:
        if ChargeCard.fail:
            raise RuntimeError(f"card declined for order {order_id}: {amount}")
        _record("charged", order_id)


class SendReceipt(jobkit.Job):
    """Records the order it mailed."""

    name = "shop.SendReceipt"
    queue = "mailers"

    def perform(self, order_id: int) -> None:
        _record("mailed", order_id)


class Hold(jobkit.Job):
    """Blocks its thread until released: a job the Busy page sees running."""

    name = "shop.Hold"
    queue = "slow"
    release = threading.Event()

    def perform(self, label: str) -> None:
        _record("held", label)
        Hold.release.wait(30)


class Report(jobkit.Job):
    """A periodic job (the Periodic page's test defines its entry): records its jid."""

    name = "shop.Report"
    queue = "reports"

    def perform(self) -> None:
        _record("reported", self.jid)
