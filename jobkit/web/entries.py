"""One stored job as the dashboard shows it: decoded when valid, raw bytes when not.

Pure code (no Redis): the pages and the actions share it, and the tests use it with Redis
stopped.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import payload as pl
from ..errors import PayloadError

#: Timestamps a payload may carry, in the order the job page lists them.
TIME_FIELDS = ("created_at", "enqueued_at", "failed_at", "retried_at", "discarded_at")


def digest(raw: bytes) -> str:
    """A short stable name for one stored payload (the jid is not unique, nor always there)."""
    return hashlib.blake2b(raw, digest_size=10).hexdigest()


def make_key(score: float, raw: bytes) -> str:
    """The key a page puts in a form or a URL for an entry of a sorted set."""
    return f"{score!r}-{digest(raw)}"


def parse_key(key: str) -> tuple[float, str] | None:
    """(score, digest) of a key made by :func:`make_key`; None when it is not one."""
    score, sep, name = key.rpartition("-")
    if not sep or len(name) != 20 or any(c not in "0123456789abcdef" for c in name):
        return None
    try:
        value = float(score)
    except ValueError:
        return None
    return (value, name) if value == value and abs(value) != float("inf") else None


@dataclass(frozen=True)
class Entry:
    """A job in a queue or a sorted set. ``payload`` is None when the bytes are not a valid
    job; ``problem`` then says why, and the page shows ``raw`` with an "invalid" label."""

    where: str
    raw: bytes
    score: float | None
    payload: dict[str, Any] | None
    problem: str | None

    @classmethod
    def load(cls, where: str, raw: bytes, score: float | None = None) -> Entry:
        try:
            return cls(where, raw, score, pl.decode(raw), None)
        except PayloadError as e:
            return cls(where, raw, score, None, str(e))

    @property
    def valid(self) -> bool:
        return self.payload is not None

    @property
    def key(self) -> str:
        return make_key(self.score or 0.0, self.raw)

    @property
    def digest(self) -> str:
        return digest(self.raw)

    def get(self, field: str) -> Any:
        return self.payload.get(field) if self.payload is not None else None

    @property
    def jid(self) -> str:
        return str(self.get("jid") or "")

    @property
    def job_class(self) -> str:
        return str(self.get("class") or "")

    @property
    def queue(self) -> str:
        return str(self.get("queue") or "")

    @property
    def raw_text(self) -> str:
        """The stored bytes as text; undecodable bytes appear as ``\\xNN`` escapes."""
        return self.raw.decode("utf-8", "backslashreplace")

    @property
    def args_json(self) -> str:
        """The arguments as compact JSON, for one line in a table."""
        return json.dumps(self.get("args"), ensure_ascii=False)

    @property
    def args_pretty(self) -> str:
        return json.dumps(self.get("args"), ensure_ascii=False, indent=2)

    @property
    def error(self) -> str:
        """``ErrorClass: message`` of the last failure, or the reason the payload is invalid."""
        if self.payload is None:
            return self.problem or ""
        cls, message = self.get("error_class"), self.get("error_message")
        return ": ".join(str(part) for part in (cls, message) if part)

    def time(self, field: str) -> float | None:
        """A timestamp field in epoch seconds (Sidekiq 8's milliseconds are read too)."""
        value = self.get(field)
        try:
            return pl.epoch(value) if value is not None else None
        except PayloadError:
            return None

    def times(self) -> list[tuple[str, float]]:
        """Every timestamp the payload carries, as (field, epoch seconds)."""
        return [(name, at) for name in TIME_FIELDS if (at := self.time(name)) is not None]

    def backtrace(self) -> list[str]:
        """The stored backtrace lines (Sidekiq compresses them; older payloads keep a list)."""
        value = self.get("error_backtrace")
        if isinstance(value, list):
            return [str(line).rstrip("\n") for line in value]
        if isinstance(value, str) and value:
            try:
                # Python's formatted frames end in a newline; Ruby's lines do not.
                return [str(line).rstrip("\n") for line in pl.decompress_backtrace(value)]
            except (ValueError, TypeError, zlib.error) as e:
                return [f"(backtrace cannot be read: {e})", value]
        return []

    def other_fields(self) -> list[tuple[str, str]]:
        """Fields the job page shows in its table of extras, as (name, JSON text)."""
        shown = {"class", "args", "jid", "queue", "error_class", "error_message",
                 "error_backtrace", "retry_count", *TIME_FIELDS}
        return [(name, json.dumps(value, ensure_ascii=False))
                for name, value in sorted((self.payload or {}).items()) if name not in shown]

    def matches(self, needle: str) -> bool:
        """Whether ``needle`` (lower case) occurs in the class, arguments or error."""
        if self.payload is None:
            return needle in self.raw_text.lower()
        return any(needle in text.lower() for text in (
            self.job_class, self.args_json, self.error, *_strings(self.get("args"))))


def _strings(value: Any) -> Iterator[str]:
    """Every string inside ``value``, unescaped (the JSON text escapes quotes)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


def glob_for(term: str) -> str:
    """A Redis MATCH pattern finding payloads that contain ``term`` in any case, as JSON
    writes it (quotes and backslashes escaped; a non-ASCII character matches anything).
    Redis narrows the scan; :meth:`Entry.matches` then keeps only true hits in the class,
    the arguments or the error."""
    parts = []
    for char in term:
        if not char.isascii():
            # Stored as UTF-8 or as a \\u escape, in either case: let anything match here.
            parts.append("*")
            continue
        for c in json.dumps(char)[1:-1]:
            if c.lower() != c.upper():
                parts.append(f"[{c.lower()}{c.upper()}]")
            elif c in "*?[]\\^-":
                parts.append("\\" + c)
            else:
                parts.append(c)
    return f"*{''.join(parts)}*"
