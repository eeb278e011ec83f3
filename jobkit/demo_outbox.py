"""The demo's outbox step: two orders written to an SQLite file, each with its charge job
enqueued through the outbox (``set(outbox=session)``) — one committed, one rolled back —
while a relay moves committed rows into the demo's Redis.

It needs SQLAlchemy (``pip install 'jobkit[sqlalchemy]'``); without it the demo says so
and runs the rest.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from typing import Any

from . import demo_jobs as dj
from .client import Client

#: How the demo tells a user without SQLAlchemy to see this step.
MISSING = "pip install 'jobkit[sqlalchemy]' to see it"


def available() -> bool:
    """Whether SQLAlchemy is installed (``import jobkit`` never needs it)."""
    return importlib.util.find_spec("sqlalchemy") is not None


class OutboxStep:
    """An SQLite shop database with the outbox table, and a relay on it into ``client``'s
    Redis; :meth:`enqueue` writes the two orders, :meth:`facts` says what became of them."""

    def __init__(self, client: Client, order_id: int) -> None:
        from sqlalchemy import create_engine, text

        from .outbox.relay import Relay, create_table

        self._dir = tempfile.TemporaryDirectory(prefix="jobkit-demo-")
        url = f"sqlite:///{os.path.join(self._dir.name, 'shop.db')}"
        create_table(url)
        self.url = url
        self.engine = create_engine(url)
        with self.engine.begin() as conn:
            conn.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)"))
        self.relay = Relay(url, client, poll_interval=0.1)
        self.order_id = order_id
        self.clock = client.settings.clock
        self.committed: dict[str, Any] = {}
        self.rolled_back: dict[str, Any] = {}

    def enqueue(self) -> str:
        """Start the relay, commit one order with its job and roll one back; the jid of
        the committed job (the one that must run)."""
        from sqlalchemy import text
        from sqlalchemy.orm import Session

        self.relay.start()
        insert = text("INSERT INTO orders (id, item) VALUES (:id, :item)")
        for order_id, keep in ((self.order_id, True), (self.order_id + 1, False)):
            with Session(self.engine) as session, session.begin():
                session.execute(insert, {"id": order_id, "item": "book"})
                jid = dj.ProcessOrderJob.set(outbox=session).perform_async(order_id)
                if not keep:
                    session.rollback()
            record = {"jid": str(jid), "order_id": order_id, "at": self.clock()}
            if keep:
                self.committed = record
            else:
                self.rolled_back = record
        return str(self.committed["jid"])

    def close(self) -> None:
        """Stop the relay, drop the database."""
        self.relay.stop()
        self.relay.close()
        self.engine.dispose()
        self._dir.cleanup()

    def facts(self, attempts: list[Any]) -> dict[str, Any]:
        """What the demo prints: each order's jid and what became of it (``attempts``:
        the recorder's), the rows relayed and the rows left in the table."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            orders = conn.execute(text("SELECT COUNT(*) FROM orders")).scalar_one()
            left = conn.execute(text("SELECT COUNT(*) FROM jobkit_outbox")).scalar_one()
        runs = {a.jid: a for a in attempts}
        ran = runs.get(self.committed["jid"])
        return {
            "database": "SQLite",
            "committed": {**self.committed,
                          "relayed_at": ran.enqueued_at if ran else None,
                          "ran_at": ran.started if ran else None},
            "rolled_back": {**self.rolled_back,
                            "ran": self.rolled_back["jid"] in runs},
            "orders_in_database": int(orders),
            "relayed": self.relay.relayed,
            "rows_left": int(left),
        }
