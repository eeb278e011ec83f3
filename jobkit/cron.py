"""When a periodic job is due: a cron expression in an IANA zone, or a fixed interval.

Pure and Redis-free. Cron expressions are parsed and evaluated by cronsim, which follows
Debian cron across daylight-saving changes: a fixed local time that does not exist that day
(02:30 when clocks jump from 02:00 to 03:00) runs once at the next valid time, and one that
occurs twice (clocks fall back) runs once; schedules with a wildcard hour or minute
(``*/15 * * * *``) keep their real-time spacing through the change.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .errors import JobDefinitionError

#: The ``@`` shorthands of cron(8), as five-field expressions.
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class Schedule:
    """A cron expression in ``zone``, or ``every`` seconds (ticks at multiples of it since the
    Unix epoch, so every process computes the same ticks)."""

    cron: str | None = None
    zone: str = "UTC"
    every: float | None = None
    _tz: dt.tzinfo = field(default=dt.timezone.utc, repr=False, compare=False)
    _expr: str = field(default="", repr=False, compare=False)

    def describe(self) -> str:
        """``cron 0 3 * * *`` or ``every 30s``."""
        if self.every is not None:
            return f"every {_seconds(self.every)}"
        return f"cron {self.cron}"

    def as_dict(self) -> dict[str, Any]:
        return {"cron": self.cron, "zone": self.zone, "every": self.every}

    def next_after(self, after: float) -> float:
        """The first tick strictly after epoch ``after``."""
        if self.every is not None:
            return (math.floor(after / self.every) + 1) * self.every
        return next(self.iter_after(after))

    def iter_after(self, after: float) -> Iterator[float]:
        """Ticks strictly after epoch ``after``, in order, as epoch seconds."""
        if self.every is not None:
            tick = self.next_after(after)
            while True:
                yield tick
                tick += self.every
        start = dt.datetime.fromtimestamp(math.floor(after), self._tz)
        for when in CronSim(self._expr, start):
            yield when.timestamp()

    def ticks(self, after: float, until: float, *, limit: int) -> list[float]:
        """The latest ``limit`` ticks in ``(after, until]``, oldest first."""
        if self.every is not None:
            # Tick k is k * every: every process spells each tick the same.
            first, last = math.floor(after / self.every) + 1, math.floor(until / self.every)
            return [k * self.every for k in range(max(first, last - limit + 1), last + 1)]
        # Backwards from ``until``, so a long gap costs ``limit`` steps, not one per tick.
        out: list[float] = []
        start = dt.datetime.fromtimestamp(math.floor(until) + 1, self._tz)
        for when in CronSim(self._expr, start, reverse=True):
            tick = when.timestamp()
            if tick <= after or len(out) >= limit:
                break
            if tick <= until:
                out.append(tick)
        return out[::-1]


def _seconds(value: float) -> str:
    return f"{int(value)}s" if value == int(value) else f"{value}s"


def zone(value: Any, field_name: str, owner: str) -> dt.tzinfo:
    """The IANA zone named ``value``; :class:`JobDefinitionError` naming the field if not."""
    if not isinstance(value, str) or not value:
        raise JobDefinitionError(
            f"{owner}: {field_name}={value!r} must be an IANA zone name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise JobDefinitionError(
            f"{owner}: {field_name}={value!r} is not a known IANA time zone "
            "(such as 'UTC', 'Europe/Berlin', 'America/New_York')") from None


def build_schedule(*, cron: Any = None, tz: Any = "UTC", every: Any = None, owner: str,
             fields: tuple[str, str, str] = ("cron", "cron_tz", "every")) -> Schedule:
    """A validated :class:`Schedule`; errors name ``fields`` (the caller's spelling)."""
    cron_field, tz_field, every_field = fields
    if (cron is None) == (every is None):
        raise JobDefinitionError(
            f"{owner}: give exactly one of {cron_field}= and {every_field}= "
            f"(got {cron_field}={cron!r}, {every_field}={every!r})")
    if every is not None:
        seconds = every.total_seconds() if isinstance(every, dt.timedelta) else every
        if (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                or not math.isfinite(seconds) or seconds < 1):
            raise JobDefinitionError(
                f"{owner}: {every_field}={every!r} must be a number of seconds >= 1 or a "
                "timedelta of at least one second")
        if tz != "UTC":
            raise JobDefinitionError(
                f"{owner}: {tz_field}={tz!r} applies to {cron_field}= only; an interval "
                "has no time zone")
        return Schedule(every=float(seconds))
    tzinfo = zone(tz, tz_field, owner)
    if not isinstance(cron, str):
        raise JobDefinitionError(
            f"{owner}: {cron_field}={cron!r} must be a cron expression string such as "
            "'0 3 * * *' or '@hourly'")
    text = " ".join(cron.split())
    expr = ALIASES.get(text.lower(), text)
    if expr.startswith("@"):
        raise JobDefinitionError(
            f"{owner}: {cron_field}={cron!r} is not a known shorthand; use one of "
            f"{', '.join(ALIASES)} or five fields")
    if len(expr.split()) != 5:
        raise JobDefinitionError(
            f"{owner}: {cron_field}={cron!r} must have five fields (minute hour day-of-month "
            f"month day-of-week), got {len(expr.split())}")
    try:
        probe = CronSim(expr, dt.datetime(2000, 1, 1, tzinfo=tzinfo))
        next(probe)
    except (CronSimError, StopIteration) as e:
        why = str(e) or "it never matches a date"
        raise JobDefinitionError(
            f"{owner}: {cron_field}={cron!r} is not a valid cron expression: {why}") from None
    return Schedule(cron=text, zone=tz, _tz=tzinfo, _expr=expr)
