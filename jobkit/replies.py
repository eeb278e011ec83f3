"""Redis replies as plain Python values, in one place.

redis-py before 8.0 annotates every synchronous command as returning ``Awaitable[Any] | Any``
(one signature for the sync and asyncio clients), which ``mypy --strict`` cannot iterate or
pass to ``int()``. jobkit supports those releases, so the few direct command replies it reads
go through these functions instead of a cast at every call."""

from __future__ import annotations

from typing import Any


def text(value: bytes | str) -> str:
    """A key, member or field name as ``str``."""
    return value.decode() if isinstance(value, bytes) else value


def texts(reply: Any) -> list[str]:
    """The members of a set/list reply (``SMEMBERS``, ``LRANGE`` …) as strings."""
    return [text(m) for m in reply]


def integer(reply: Any) -> int:
    """A counter or size reply (``ZCARD``, ``GET`` of a counter, …); a missing key is 0."""
    return int(reply or 0)


def values(reply: Any) -> list[Any]:
    """A multi-value reply (``MGET``, ``HMGET``) as a list, missing entries as ``None``."""
    return list(reply)
