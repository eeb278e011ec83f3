"""Job classes: options as validated class attributes, and the enqueue methods."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import random
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, ParamSpec, TypeVar, overload

from . import periodic_entries, registry, routing
from .config import get_client
from .errors import ArgumentError, JobDefinitionError
from .options import (
    JobOptions,
    UniqueArgs,
    check_backtrace,
    check_bool,
    check_discard_on,
    check_queue,
    check_retry,
    check_tags,
    check_unique,
    check_unique_args,
    check_unique_for,
)

if TYPE_CHECKING:
    from .aclient import AsyncClient
    from .client import Client

P = ParamSpec("P")
R = TypeVar("R")


class Job:
    """Base class of jobs: subclass it, set options as class attributes, define ``perform``.

    ``perform`` receives the JSON-decoded positional arguments. The instance carries ``jid``,
    ``queue`` and ``retry_count`` of the payload being run.
    """

    #: Payload ``"class"`` name; defaults to ``module.QualName``.
    name: ClassVar[str]
    queue: ClassVar[str] = "default"
    retry: ClassVar[bool | int] = True
    #: False: when retries run out, drop the job instead of keeping it in the dead set.
    dead: ClassVar[bool] = True
    #: Exceptions that end the job at once, without retry or dead set.
    discard_on: ClassVar[tuple[type[BaseException], ...]] = ()
    #: Keep this many backtrace lines in the retry payload (True = all).
    backtrace: ClassVar[bool | int] = False
    #: False: use ``retry_in``'s delay exactly, without Sidekiq's random jitter.
    retry_jitter: ClassVar[bool] = True
    tags: ClassVar[tuple[str, ...]] = ()
    unique: ClassVar[str | None] = None
    unique_for: ClassVar[float] = 3600.0
    unique_args: ClassVar[UniqueArgs | None] = None
    #: Periodic: a five-field cron expression or @hourly/@daily/...; ``cron_tz`` its IANA zone.
    cron: ClassVar[str | None] = None
    cron_tz: ClassVar[str] = "UTC"
    #: Periodic: seconds (or a timedelta) between runs, instead of ``cron``.
    every: ClassVar[float | dt.timedelta | None] = None
    #: Ticks missed while no worker ran: "latest" (enqueue the last one), "none" or "all".
    catch_up: ClassVar[str] = "latest"

    #: (required, maximum or None for ``*args``) positional argument counts of ``perform``.
    _arity: ClassVar[tuple[int, int | None]] = (0, None)
    #: True when ``perform`` is ``async def``: the worker awaits it on an event loop.
    _coroutine: ClassVar[bool] = False
    _options: ClassVar[JobOptions]

    jid: str = ""
    retry_count: int | None = None
    #: For a periodic run: the tick it is for (aware UTC datetime); None for other runs.
    tick: dt.datetime | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        owner = f"{cls.__module__}.{cls.__qualname__}"
        if "name" not in cls.__dict__:
            cls.name = owner
        elif not isinstance(cls.name, str) or not cls.name:
            raise JobDefinitionError(f"{owner}: name={cls.name!r} must be a non-empty string")
        dead = check_bool("dead", cls.dead, owner)
        cls.discard_on = check_discard_on(cls.discard_on, owner)
        check_bool("retry_jitter", cls.retry_jitter, owner)
        target = cls._perform_target()
        cls._arity = _arity_of(target, owner)
        cls._coroutine = inspect.iscoroutinefunction(target)
        cls._options = JobOptions(
            name=cls.name,
            queue=check_queue(cls.queue, owner),
            retry=check_retry(cls.retry, owner),
            dead=dead,
            backtrace=check_backtrace(cls.backtrace, owner),
            tags=check_tags(cls.tags, owner),
            unique=check_unique(cls.unique, owner),
            unique_for=check_unique_for(cls.unique_for, owner),
            unique_args=check_unique_args(cls.__dict__.get("unique_args", cls.unique_args), owner),
            arity=cls._arity,
            class_dead=dead,
        )
        periodic_entries.from_class(cls, owner)
        registry.register(cls)

    @classmethod
    def _perform_target(cls) -> Callable[..., Any]:
        perform = cls.__dict__.get("perform") or getattr(cls, "perform", None)
        if perform is None or perform is Job.perform:
            raise JobDefinitionError(f"{cls.__module__}.{cls.__qualname__} must define perform()")
        if inspect.isasyncgenfunction(perform) or inspect.isgeneratorfunction(perform):
            raise JobDefinitionError(
                f"{cls.__module__}.{cls.__qualname__}.perform is a generator; define it with "
                "`def` (runs in a thread) or `async def` (awaited on an event loop), without yield"
            )
        return functools.partial(perform, None)

    def perform(self, *args: Any) -> Any:
        """Do the work (``def`` or ``async def``); raise to fail (and retry)."""
        raise NotImplementedError

    @classmethod
    def is_coroutine(cls) -> bool:
        """True when ``perform`` is ``async def`` (a coroutine job)."""
        return cls._coroutine

    @classmethod
    def retry_in(cls, count: int, exc: BaseException) -> float | None:
        """Seconds until retry number ``count`` (0-based); None uses Sidekiq's backoff."""
        return None

    @classmethod
    def default_retry_delay(cls, count: int) -> float:
        """Sidekiq's backoff: ``count**4 + 15 + random(10) * (count + 1)`` seconds."""
        return float(count**4 + 15 + random.randrange(10) * (count + 1))

    @classmethod
    def options(cls) -> JobOptions:
        """The class's resolved options."""
        return cls._options

    @classmethod
    def check_arity(cls, args: Sequence[Any]) -> None:
        """Raise :class:`ArgumentError` when ``perform`` cannot take ``len(args)`` arguments."""
        cls._options.check_arity(args)

    @classmethod
    def set(cls, **overrides: Any) -> Enqueuer:
        """Per-call options: ``MyJob.set(queue="low", retry=5).perform_async(1)``;
        ``after_commit=``/``outbox=`` tie the enqueue to a database transaction."""
        route = routing.route_of(cls.name, overrides)
        options = cls._options.with_overrides(cls.name, overrides) if overrides else cls._options
        return Enqueuer(cls, options, route)

    @classmethod
    def perform_async(cls, *args: Any, **kwargs: Any) -> str | None:
        """Enqueue now; returns the jid (None if a middleware or unique lock dropped it)."""
        if kwargs:
            _reject_kwargs(cls.name, kwargs)
        return _client().enqueue(cls, args, cls._options)

    @classmethod
    def perform_in(cls, interval: Any, *args: Any, **kwargs: Any) -> str | None:
        """Enqueue to run after ``interval`` (seconds or a timedelta)."""
        return Enqueuer(cls, cls._options).perform_in(interval, *args, **kwargs)

    @classmethod
    def perform_at(cls, when: Any, *args: Any, **kwargs: Any) -> str | None:
        """Enqueue to run at ``when`` (an aware datetime or epoch seconds)."""
        return Enqueuer(cls, cls._options).perform_at(when, *args, **kwargs)

    @classmethod
    def perform_bulk(
        cls, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str | None]:
        """Enqueue one job per argument list in pipelined round trips; returns the jids."""
        return Enqueuer(cls, cls._options).perform_bulk(args_list, batch_size=batch_size)

    # Awaitable variants for async code: the same payloads and checks, on redis.asyncio.

    @classmethod
    async def aperform_async(cls, *args: Any, **kwargs: Any) -> str | None:
        """``await`` form of :meth:`perform_async`, on the event loop's async connection."""
        return await Enqueuer(cls, cls._options).aperform_async(*args, **kwargs)

    @classmethod
    async def aperform_in(cls, interval: Any, *args: Any, **kwargs: Any) -> str | None:
        """``await`` form of :meth:`perform_in`."""
        return await Enqueuer(cls, cls._options).aperform_in(interval, *args, **kwargs)

    @classmethod
    async def aperform_at(cls, when: Any, *args: Any, **kwargs: Any) -> str | None:
        """``await`` form of :meth:`perform_at`."""
        return await Enqueuer(cls, cls._options).aperform_at(when, *args, **kwargs)

    @classmethod
    async def aperform_bulk(
        cls, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str | None]:
        """``await`` form of :meth:`perform_bulk`."""
        return await Enqueuer(cls, cls._options).aperform_bulk(args_list, batch_size=batch_size)


def _reject_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise ArgumentError(
            f"{name}: keyword arguments are not supported (Sidekiq's job format has only "
            f"positional args): got {shown}; pass them positionally or as one dict"
        )


class Enqueuer:
    """A job class bound to resolved options; what ``Job.set()`` returns."""

    def __init__(
        self, job: type[Job], options: JobOptions, route: routing.Route | None = None
    ) -> None:
        self.job = job
        self.options = options
        #: Where the push goes instead of Redis now: after a commit, or an outbox table.
        self.route = route

    def _enqueue(self, args: Sequence[Any], at: float | None = None) -> str | None:
        if self.route is not None:
            return self.route.enqueue(_client(), self.job, args, self.options, at=at)
        return _client().enqueue(self.job, args, self.options, at=at)

    def perform_async(self, *args: Any, **kwargs: Any) -> str | None:
        _reject_kwargs(self.job.name, kwargs)
        return self._enqueue(args)

    def perform_in(self, interval: Any, *args: Any, **kwargs: Any) -> str | None:
        from .times import delay_seconds

        _reject_kwargs(self.job.name, kwargs)
        return self._enqueue(args, _client().settings.clock() + delay_seconds(interval))

    def perform_at(self, when: Any, *args: Any, **kwargs: Any) -> str | None:
        from .times import epoch_of

        _reject_kwargs(self.job.name, kwargs)
        return self._enqueue(args, epoch_of(when))

    def perform_bulk(
        self, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str | None]:
        if self.route is not None:
            return self.route.enqueue_bulk(_client(), self.job, args_list, self.options)
        return _client().enqueue_bulk(self.job, args_list, self.options, batch_size=batch_size)

    # With a route (after_commit=, outbox=) nothing goes to Redis now: the route takes the
    # job synchronously, as for the plain methods, and pushes it when the transaction commits.

    async def aperform_async(self, *args: Any, **kwargs: Any) -> str | None:
        _reject_kwargs(self.job.name, kwargs)
        if self.route is not None:
            return self._enqueue(args)
        return await _aclient().enqueue(self.job, args, self.options)

    async def aperform_in(self, interval: Any, *args: Any, **kwargs: Any) -> str | None:
        from .times import delay_seconds

        _reject_kwargs(self.job.name, kwargs)
        if self.route is not None:
            return self._enqueue(args, _client().settings.clock() + delay_seconds(interval))
        client = _aclient()
        at = client.settings.clock() + delay_seconds(interval)
        return await client.enqueue(self.job, args, self.options, at=at)

    async def aperform_at(self, when: Any, *args: Any, **kwargs: Any) -> str | None:
        from .times import epoch_of

        _reject_kwargs(self.job.name, kwargs)
        if self.route is not None:
            return self._enqueue(args, epoch_of(when))
        return await _aclient().enqueue(self.job, args, self.options, at=epoch_of(when))

    async def aperform_bulk(
        self, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str | None]:
        if self.route is not None:
            return self.perform_bulk(args_list, batch_size=batch_size)
        return await _aclient().enqueue_bulk(
            self.job, args_list, self.options, batch_size=batch_size
        )


def _client() -> Client:
    return get_client()


def _aclient() -> AsyncClient:
    # Imported here: the async client pulls in redis.asyncio, which sync-only apps never load.
    from .aclient import get_async_client

    return get_async_client()


def _arity_of(func: Callable[..., Any], owner: str) -> tuple[int, int | None]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return (0, None)
    low, high = 0, 0
    for param in sig.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            return (low, None)
        if param.kind is param.KEYWORD_ONLY and param.default is param.empty:
            raise JobDefinitionError(
                f"{owner}.perform has required keyword-only parameter {param.name!r}; "
                "Sidekiq's format carries positional arguments only"
            )
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            high += 1
            if param.default is param.empty:
                low += 1
    return (low, high)


class JobFunction(Generic[P, R]):
    """A plain function turned into a job by :func:`job`; call it directly to run it inline."""

    def __init__(self, func: Callable[P, R], job_class: type[Job]) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.job_class = job_class

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.func(*args, **kwargs)

    @property
    def name(self) -> str:
        return self.job_class.name

    def set(self, **overrides: Any) -> Enqueuer:
        return self.job_class.set(**overrides)

    def perform_async(self, *args: Any, **kwargs: Any) -> str | None:
        return self.job_class.perform_async(*args, **kwargs)

    def perform_in(self, interval: Any, *args: Any, **kwargs: Any) -> str | None:
        return self.job_class.perform_in(interval, *args, **kwargs)

    def perform_at(self, when: Any, *args: Any, **kwargs: Any) -> str | None:
        return self.job_class.perform_at(when, *args, **kwargs)

    def perform_bulk(
        self, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str | None]:
        return self.job_class.perform_bulk(args_list, batch_size=batch_size)

    async def aperform_async(self, *args: Any, **kwargs: Any) -> str | None:
        return await self.job_class.aperform_async(*args, **kwargs)

    async def aperform_in(self, interval: Any, *args: Any, **kwargs: Any) -> str | None:
        return await self.job_class.aperform_in(interval, *args, **kwargs)

    async def aperform_at(self, when: Any, *args: Any, **kwargs: Any) -> str | None:
        return await self.job_class.aperform_at(when, *args, **kwargs)

    async def aperform_bulk(
        self, args_list: Iterable[Sequence[Any]], *, batch_size: int = 1000
    ) -> list[str | None]:
        return await self.job_class.aperform_bulk(args_list, batch_size=batch_size)


@overload
def job(func: Callable[P, R], /) -> JobFunction[P, R]: ...


@overload
def job(func: None = None, /, **options: Any) -> Callable[[Callable[P, R]], JobFunction[P, R]]: ...


def job(
    func: Callable[P, R] | None = None, /, **options: Any
) -> JobFunction[P, R] | Callable[[Callable[P, R]], JobFunction[P, R]]:
    """Make a function a job: ``@jobkit.job`` or ``@jobkit.job(queue="mailers", retry=5)``."""

    def wrap(fn: Callable[P, R]) -> JobFunction[P, R]:
        if not callable(fn):
            raise JobDefinitionError(f"@jobkit.job expects a function, got {fn!r}")
        unknown = sorted(set(options) - _FUNCTION_OPTIONS)
        if unknown:
            raise JobDefinitionError(
                f"@jobkit.job on {fn.__qualname__}: unknown option {unknown[0]!r}; "
                f"options: {', '.join(sorted(_FUNCTION_OPTIONS))}"
            )

        def perform(self: Job, *args: Any) -> None:
            fn(*args)  # type: ignore[call-arg, unused-ignore]

        async def aperform(self: Job, *args: Any) -> None:
            await fn(*args)  # type: ignore[call-arg, misc, unused-ignore]

        attrs: dict[str, Any] = {
            "__module__": fn.__module__,
            "__qualname__": fn.__qualname__,
            "__doc__": fn.__doc__,
            "perform": aperform if inspect.iscoroutinefunction(fn) else perform,
            "_perform_target": classmethod(lambda cls: fn),
            **{k: (staticmethod(v) if k == "unique_args" and v else v) for k, v in options.items()},
        }
        if "retry_in" in options:
            user_retry_in = options["retry_in"]
            attrs["retry_in"] = classmethod(lambda cls, count, exc: user_retry_in(count, exc))
        job_class = type(fn.__name__, (Job,), attrs)
        return JobFunction(fn, job_class)

    if func is not None:
        return wrap(func)
    return wrap


_FUNCTION_OPTIONS = {
    "name", "queue", "retry", "dead", "discard_on", "backtrace", "retry_jitter", "tags",
    "unique", "unique_for", "unique_args", "retry_in", "cron", "cron_tz", "every", "catch_up",
}


def resolve(job: Any) -> type[Job]:
    """The job class behind a :class:`Job` subclass or a :func:`job` function."""
    if isinstance(job, JobFunction):
        return job.job_class
    if isinstance(job, type) and issubclass(job, Job) and job is not Job:
        return job
    raise JobDefinitionError(f"{job!r} is not a jobkit job class or @jobkit.job function")

