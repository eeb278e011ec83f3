"""The unit of work: one fetched job, as it travels from the fetch to an executor and back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class UnitOfWork(NamedTuple):
    """A job fetched into this process's in-progress list for ``queue``.

    ``raw`` is the payload exactly as fetched: the bytes that identify the job in the
    in-progress list, so acknowledging or requeueing it removes that entry and no other.
    A tuple, so that code written for ``(queue, raw)`` pairs keeps working."""

    queue: str
    raw: bytes


def units(queue: str, raws: Iterable[bytes]) -> list[UnitOfWork]:
    """``UnitOfWork(queue, raw)`` for each of ``raws``, built without the named tuple's
    Python-level ``__new__``: a fetch makes one per job."""
    new = tuple.__new__
    return [new(UnitOfWork, (queue, raw)) for raw in raws]
