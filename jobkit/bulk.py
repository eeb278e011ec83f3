"""Bulk enqueue's pure half: the argument lists of one ``perform_bulk`` to payload bytes.

The jobs of one call share their class, queue, retry, options and timestamps, so the JSON
around ``args`` and ``jid`` is encoded once per call, one read of the OS's random source
makes every jid, and per job only the arguments are encoded (by the payload codec's C
encoder, built once). The bytes are those
:func:`jobkit.payload.encode` writes for the dict the one-job path builds, field for field
and in the same order (tests/runtime/test_bulk.py holds the two paths together).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from . import payload as pl
from . import unique
from .errors import ArgumentError
from .options import JobOptions


def new_jids(n: int) -> list[str]:
    """``n`` jids of Sidekiq's form (24 lowercase hex characters, as ``SecureRandom.hex(12)``)."""
    text = os.urandom(12 * n).hex()
    return [text[i : i + 24] for i in range(0, 24 * n, 24)]


def check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ArgumentError(f"batch_size={batch_size!r} must be a positive integer")
    # Through an annotated local: mypy 1.10 does not narrow Any by the isinstance above.
    size: int = batch_size
    return size


def check_all(args_list: Iterable[Sequence[Any]], options: JobOptions) -> list[list[Any]]:
    """Every argument list checked before anything is pushed, so a bad one pushes nothing;
    the error names the bad list's index."""
    if isinstance(args_list, str | bytes) or not isinstance(args_list, Iterable):
        raise ArgumentError(f"args_list={args_list!r} must be a list of argument lists")
    checked: list[list[Any]] = []
    for i, args in enumerate(args_list):
        if type(args) is not list and (
            isinstance(args, str | bytes) or not isinstance(args, Sequence)
        ):
            raise ArgumentError(
                f"args_list[{i}]={args!r} must be a list of arguments, e.g. [[1], [2]]"
            )
        try:
            one = pl.check_args(args)
            options.check_arity(one)
        except ArgumentError as e:
            raise ArgumentError(f"args_list[{i}]: {e}") from e
        checked.append(one)
    return checked


def digests(checked: list[list[Any]], options: JobOptions) -> list[str]:
    """Every job's ``unique_digest``; the error names the list whose ``unique_args`` failed."""
    found: list[str] = []
    for i, args in enumerate(checked):
        try:
            found.append(unique.digest(options, args))
        except ArgumentError as e:
            raise ArgumentError(f"args_list[{i}]: {e}") from e
    return found


def extra_fields(options: JobOptions, args: list[Any]) -> dict[str, Any]:
    """The optional payload fields ``options`` add, in the order the payload carries them."""
    extra: dict[str, Any] = {}
    if not options.dead or not options.class_dead:
        # Written whenever it differs from Sidekiq's default or overrides the class's.
        extra["dead"] = options.dead
    if options.backtrace:
        extra["backtrace"] = options.backtrace
    if options.tags:
        extra["tags"] = list(options.tags)
    if options.unique:
        extra["unique_digest"] = unique.digest(options, args)
        extra["unique"] = options.unique
    return extra


_encode = pl.encode_value


class Template:
    """The JSON of one call's payloads with holes for ``args``, ``jid`` and (for unique jobs)
    ``unique_digest``: ``{"class":…,"args":ARGS,"queue":…,"retry":…,"jid":"JID",
    "created_at":…,<extra fields>,"enqueued_at":…}``, as :func:`jobkit.payload.build` and the
    push order the fields."""

    def __init__(self, options: JobOptions, now: float) -> None:
        enc = pl.encode_value
        self.head = '{"class":' + enc(options.name) + ',"args":'
        self.middle = (',"queue":' + enc(options.queue) + ',"retry":' + enc(options.retry)
                       + ',"jid":"')
        fixed = extra_fields(replace(options, unique=None), [])
        tail = '","created_at":' + enc(float(now))
        tail += "".join("," + enc(k) + ":" + enc(v) for k, v in fixed.items())
        end = ',"enqueued_at":' + enc(float(now)) + "}"
        if options.unique:
            self.tail = tail + ',"unique_digest":"'
            self.end = '","unique":' + enc(options.unique) + end
        else:
            self.tail, self.end = tail + end, ""

    def encode(self, args: list[Any], jid: str, digest: str = "") -> bytes:
        """One payload's bytes; ``digest`` is its ``unique_digest`` for a unique job."""
        if self.end:
            return (self.head + _encode(args) + self.middle + jid + self.tail + digest
                    + self.end).encode()
        return (self.head + _encode(args) + self.middle + jid + self.tail).encode()
