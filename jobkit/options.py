"""Job options: their validation, shared by class attributes and per-call ``set()`` overrides."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ArgumentError, JobDefinitionError

UNIQUE_MODES = ("until_executed", "until_executing", "while_executing")
UniqueArgs = Callable[[list[Any]], Any]


def check_queue(value: Any, owner: str) -> str:
    if not isinstance(value, str) or not value or any(c.isspace() or c == "," for c in value):
        raise JobDefinitionError(
            f"{owner}: queue={value!r} must be a non-empty string without whitespace or commas"
        )
    return value


def check_retry(value: Any, owner: str) -> bool | int:
    if isinstance(value, bool) or (isinstance(value, int) and value >= 0):
        return value
    raise JobDefinitionError(
        f"{owner}: retry={value!r} must be True (25 attempts), False or an integer >= 0"
    )


def check_bool(name: str, value: Any, owner: str) -> bool:
    if not isinstance(value, bool):
        raise JobDefinitionError(f"{owner}: {name}={value!r} must be True or False")
    return value


def check_backtrace(value: Any, owner: str) -> bool | int:
    if isinstance(value, bool) or (isinstance(value, int) and value >= 0):
        return value
    raise JobDefinitionError(
        f"{owner}: backtrace={value!r} must be True, False or a number of lines >= 0"
    )


def check_tags(value: Any, owner: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise JobDefinitionError(f"{owner}: tags={value!r} must be a list of strings")
    for tag in value:
        if not isinstance(tag, str) or not tag:
            raise JobDefinitionError(f"{owner}: tags item {tag!r} must be a non-empty string")
    return tuple(value)


def check_discard_on(value: Any, owner: str) -> tuple[type[BaseException], ...]:
    items = (value,) if isinstance(value, type) else value
    if not isinstance(items, Sequence):
        raise JobDefinitionError(f"{owner}: discard_on={value!r} must be a tuple of exceptions")
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise JobDefinitionError(
                f"{owner}: discard_on item {item!r} is not an exception class"
            )
    return tuple(items)


def check_unique(value: Any, owner: str) -> str | None:
    if value is None or value in UNIQUE_MODES:
        return value  # type: ignore[no-any-return]
    raise JobDefinitionError(
        f"{owner}: unique={value!r} must be None or one of {', '.join(UNIQUE_MODES)}"
    )


def check_unique_for(value: Any, owner: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise JobDefinitionError(
            f"{owner}: unique_for={value!r} must be a positive number of seconds"
        )
    return float(value)


def check_unique_args(value: Any, owner: str) -> UniqueArgs | None:
    if value is None or callable(value):
        return value  # type: ignore[no-any-return]
    raise JobDefinitionError(f"{owner}: unique_args={value!r} must be a callable or None")


@dataclass(frozen=True)
class JobOptions:
    """The resolved options of one enqueue: the class's, with per-call overrides applied."""

    name: str
    queue: str
    retry: bool | int
    dead: bool = True
    backtrace: bool | int = False
    tags: tuple[str, ...] = ()
    unique: str | None = None
    unique_for: float = 3600.0
    unique_args: UniqueArgs | None = None
    #: (required, maximum or None for ``*args``) positional arguments ``perform`` takes: the
    #: options carry it so the client checks a call without knowing the job class.
    arity: tuple[int, int | None] = (0, None)
    #: The class's own ``dead``: a payload carries ``dead`` when it differs from Sidekiq's
    #: default or from this (a ``set(dead=True)`` over a class's ``dead = False``).
    class_dead: bool = True

    #: Options that ``Job.set()`` may override for one call.
    OVERRIDABLE = ("queue", "retry", "dead", "backtrace", "tags", "unique_for")

    def with_overrides(self, owner: str, overrides: dict[str, Any]) -> JobOptions:
        """Apply ``set(**overrides)`` after validating each value."""
        checked: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in self.OVERRIDABLE:
                raise JobDefinitionError(
                    f"{owner}.set(): unknown option {key!r}; "
                    f"overridable options: {', '.join(self.OVERRIDABLE)}"
                )
            checked[key] = _CHECKERS[key](value, owner)
        return JobOptions(**{**self.__dict__, **checked})

    def check_arity(self, args: Sequence[Any]) -> None:
        """Raise :class:`ArgumentError` when ``perform`` cannot take ``len(args)`` arguments."""
        low, high = self.arity
        n = len(args)
        if n < low or (high is not None and n > high):
            wanted = (str(low) if low == high
                      else f"{low} to {high}" if high is not None else f"{low} or more")
            raise ArgumentError(
                f"{self.name}.perform() takes {wanted} argument(s) "
                f"but {n} were given: {list(args)!r}"
            )


_CHECKERS: dict[str, Callable[[Any, str], Any]] = {
    "queue": check_queue,
    "retry": check_retry,
    "dead": lambda v, o: check_bool("dead", v, o),
    "backtrace": check_backtrace,
    "tags": check_tags,
    "unique_for": check_unique_for,
}
