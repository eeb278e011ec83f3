"""Frozen runtime settings and their constructors from keywords and the environment."""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .middleware.base import ClientMiddleware, ServerMiddleware

#: Called with the dead job's payload and the exception that killed it.
DeathHandler = Callable[[dict[str, Any], BaseException], None]

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
#: Sidekiq trims its dead set to six months (180 days) and 10,000 jobs.
SIX_MONTHS = 180 * 24 * 3600.0


def _env_redis_url() -> str:
    return os.environ.get("JOBKIT_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


_NUMERIC_ENV: dict[str, type[int] | type[float]] = {
    "heartbeat_interval": float,
    "recovery_timeout": float,
    "poll_interval": float,
    "dead_timeout": float,
    "dead_max_jobs": int,
    "default_max_retries": int,
    "max_recoveries": int,
}


@dataclass(frozen=True)
class Settings:
    """Everything the client and the worker need to agree on.

    Build one with :func:`jobkit.configure` or :meth:`Settings.from_env`; change one with
    :meth:`replace`. All durations are seconds.
    """

    redis_url: str = field(default_factory=_env_redis_url)
    namespace: str = ""
    death_handlers: tuple[DeathHandler, ...] = ()
    client_middleware: tuple[ClientMiddleware, ...] = ()
    server_middleware: tuple[ServerMiddleware, ...] = ()
    #: Wall clock in epoch seconds; the pytest plugin swaps in a fake one.
    clock: Callable[[], float] = time.time
    #: Draws Sidekiq's retry jitter: ``jitter_random(10)`` returns 0 to 9. The pytest plugin
    #: swaps in a deterministic one, as it does the clock.
    jitter_random: Callable[[int], int] = random.randrange
    heartbeat_interval: float = 5.0
    #: A process that has not heartbeated for this long is presumed dead and its jobs requeued.
    recovery_timeout: float = 30.0
    #: Average seconds between scheduled/retry polls of one process (scaled by process count).
    poll_interval: float = 5.0
    dead_max_jobs: int = 10_000
    dead_timeout: float = SIX_MONTHS
    #: Attempts meant by ``retry = True`` (Sidekiq's default).
    default_max_retries: int = 25
    #: A job in progress in this many dead processes is killed as a poison pill.
    max_recoveries: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.redis_url, str) or "://" not in self.redis_url:
            raise ConfigError(
                f"redis_url={self.redis_url!r} must be a URL such as redis://localhost:6379/0, "
                "rediss://… for TLS, or memory:// for the embedded fake Redis"
            )
        if not isinstance(self.namespace, str) or any(c.isspace() for c in self.namespace):
            raise ConfigError(f"namespace={self.namespace!r} must be a string without whitespace")
        for name in ("heartbeat_interval", "recovery_timeout", "poll_interval", "dead_timeout"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConfigError(f"{name}={value!r} must be a positive number of seconds")
        if self.recovery_timeout <= self.heartbeat_interval:
            raise ConfigError(
                f"recovery_timeout={self.recovery_timeout!r} must be longer than "
                f"heartbeat_interval={self.heartbeat_interval!r}, or live workers look dead"
            )
        for name in ("dead_max_jobs", "default_max_retries", "max_recoveries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name}={value!r} must be a non-negative integer")
        for handler in self.death_handlers:
            if not callable(handler):
                raise ConfigError(f"death_handlers item {handler!r} is not callable")
        if not callable(self.clock):
            raise ConfigError(f"clock={self.clock!r} is not callable")
        if not callable(self.jitter_random):
            raise ConfigError(f"jitter_random={self.jitter_random!r} is not callable")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Read ``JOBKIT_REDIS_URL`` (or ``REDIS_URL``), ``JOBKIT_NAMESPACE`` and the numeric
        settings as ``JOBKIT_<NAME>`` (``JOBKIT_RECOVERY_TIMEOUT=20``)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        url = env.get("JOBKIT_REDIS_URL") or env.get("REDIS_URL")
        if url:
            values["redis_url"] = url
        if "JOBKIT_NAMESPACE" in env:
            values["namespace"] = env["JOBKIT_NAMESPACE"]
        for name, kind in _NUMERIC_ENV.items():
            var = f"JOBKIT_{name.upper()}"
            if var in env:
                try:
                    values[name] = kind(env[var])
                except ValueError:
                    raise ConfigError(
                        f"{var}={env[var]!r} must be {'an integer' if kind is int else 'a number'}"
                    ) from None
        values.update(overrides)
        return cls.from_kwargs(**values)

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> Settings:
        """Settings for the Redis at ``url``."""
        return cls.from_kwargs(redis_url=url, **overrides)

    @classmethod
    def from_kwargs(cls, **values: Any) -> Settings:
        """Like the constructor, but an unknown keyword is a :class:`ConfigError` naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(known))}"
            )
        for name in ("death_handlers", "client_middleware", "server_middleware"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}")
        for name in ("death_handlers", "client_middleware", "server_middleware"):
            if name in changes:
                changes[name] = tuple(changes[name])
        return replace(self, **changes)
