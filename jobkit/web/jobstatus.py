"""The Job-by-jid page's answer: :mod:`jobkit.status`'s (the same as ``jobkit status JID``),
plus the set entry it names, so the page can link to that job's own page and actions."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from ..errors import ConfigError
from ..keys import Keys
from ..settings import Settings
from ..status import JobStatus, StatusReader, check_jid
from .entries import Entry

#: Status states that are entries of a sorted set, and that set's page.
SET_OF_STATE = {"scheduled": ("scheduled", "schedule"), "retrying": ("retries", "retry"),
                "dead": ("dead", "dead")}


@dataclass(frozen=True)
class Found:
    """Where the job is, and its entry when it sits in a sorted set."""

    status: JobStatus
    page: str | None
    entry: Entry | None


def job_status(connection: redis.Redis, settings: Settings, jid: str) -> Found | None:
    """Where the job with ``jid`` is now; None when it is nowhere (or ``jid`` is no jid)."""
    try:
        check_jid(jid)
    except ConfigError:
        return None
    status = StatusReader(connection, settings).status(jid)
    if status.state == "not_found":
        return None
    page, entry = None, None
    if status.state in SET_OF_STATE and status.at is not None:
        page, where = SET_OF_STATE[status.state]
        key = str(getattr(Keys(settings.namespace), where))
        rows: list[tuple[bytes, float]] = connection.zrangebyscore(  # type: ignore[assignment]
            key, status.at, status.at, withscores=True)
        for raw, score in rows:
            candidate = Entry.load(where, raw, float(score))
            if candidate.jid == jid:
                entry = candidate
                break
    return Found(status, page, entry)
