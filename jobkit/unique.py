"""Unique-job lock names: which enqueues count as duplicates of each other."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .errors import ArgumentError
from .options import JobOptions


def digest(options: JobOptions, args: list[Any]) -> str:
    """A stable digest of job name, queue and the arguments that define uniqueness."""
    key_args = args if options.unique_args is None else options.unique_args(list(args))
    try:
        text = json.dumps([options.name, options.queue, key_args], sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ArgumentError(
            f"{options.name}: unique_args returned {key_args!r}, which is not JSON data: {e}"
        ) from e
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def lock_ttl_ms(options: JobOptions, *, delay: float = 0.0) -> int:
    """The lock's TTL: ``unique_for`` from the time the job is due to run."""
    return max(1, int((max(0.0, delay) + options.unique_for) * 1000))
