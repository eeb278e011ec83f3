"""The base class of the routes that take jobs at the call and push them later (after a
commit, from an outbox table): it checks each job and runs the client middleware now."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .bulk import check_all

if TYPE_CHECKING:
    from .client import Client, Ready
    from .options import JobOptions


class PreparedRoute:
    """A route that checks each job and runs the client middleware at the call, then hands
    the prepared jobs to :meth:`send` (a commit hook, an outbox INSERT)."""

    def send(self, client: Client, ready: list[Ready]) -> None:
        """Take over jobs checked and through the middleware."""
        raise NotImplementedError

    def enqueue(
        self, client: Client, job: type, args: Sequence[Any], options: JobOptions,
        *, at: float | None = None,
    ) -> str | None:
        """Enqueue one job; its jid, None if a middleware dropped it."""
        ready = client.prepare(job, args, options, at=at)
        if ready is None:
            return None
        self.send(client, [ready])
        return str(ready.payload["jid"])

    def enqueue_bulk(
        self, client: Client, job: type, args_list: Iterable[Sequence[Any]],
        options: JobOptions,
    ) -> list[str | None]:
        """Enqueue one job per argument list; the error names a bad list's index."""
        prepared = [client.prepare(job, args, options) for args in check_all(args_list, options)]
        kept = [r for r in prepared if r is not None]
        if kept:
            self.send(client, kept)
        return [None if r is None else str(r.payload["jid"]) for r in prepared]
