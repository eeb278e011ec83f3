"""Crash points for the idempotency checker: wrap a callable so the job "dies" right after
its k-th call returns, the side effect done and the job not acknowledged."""

from __future__ import annotations

import inspect
import pkgutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from .errors import SimulatedCrash, UsageError


class CrashPoint:
    """One ``redeliver_after`` target: where it lives, and a call counter."""

    def __init__(self, target: Any) -> None:
        self.owner, self.attr, self.label = _locate(target)
        self.calls = 0
        self.crash_at: int | None = None

    @contextmanager
    def armed(self, crash_at: int | None) -> Iterator[CrashPoint]:
        """Count calls (and crash after call ``crash_at``) while the block runs."""
        self.calls = 0
        self.crash_at = crash_at
        original = inspect.getattr_static(self.owner, self.attr)
        with mock.patch.object(self.owner, self.attr, self._wrap(original)):
            yield self

    def _wrap(self, original: Any) -> Any:
        if isinstance(original, staticmethod | classmethod):
            return type(original)(self._counting(original.__func__))
        return self._counting(original)

    def _counting(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(func):
            # A coroutine's side effect happens when it is awaited, not when it is called.
            async def awaiting(*args: Any, **kwargs: Any) -> Any:
                result = await func(*args, **kwargs)
                self._returned()
                return result

            return awaiting

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = func(*args, **kwargs)
            self._returned()
            return result

        return wrapper

    def _returned(self) -> None:
        self.calls += 1
        if self.calls == self.crash_at:
            raise SimulatedCrash(f"simulated crash after call {self.calls} of {self.label}")


def _locate(target: Any) -> tuple[Any, str, str]:
    """(owner, attribute name, label) for a dotted path or a function/method object."""
    if isinstance(target, str):
        path, _, attr = target.rpartition(".")
        if not path or not attr:
            raise UsageError(f"redeliver_after item {target!r} must be 'package.module.attr'")
        try:
            owner = pkgutil.resolve_name(path)
        except (ImportError, AttributeError, ValueError) as e:
            raise UsageError(f"redeliver_after item {target!r}: cannot import {path!r}: {e}") from e
        if not hasattr(owner, attr):
            raise UsageError(f"redeliver_after item {target!r}: {path} has no attribute {attr!r}")
        return owner, attr, target
    func = getattr(target, "__func__", target)
    module = sys.modules.get(getattr(func, "__module__", "") or "")
    qualname = getattr(func, "__qualname__", "")
    if module is None or not qualname or "<locals>" in qualname:
        raise UsageError(
            f"redeliver_after item {target!r} cannot be patched where it is looked up; "
            "pass its dotted path as a string instead ('package.module.Class.method')"
        )
    parent: Any = module
    *parents, attr = qualname.split(".")
    for part in parents:
        parent = getattr(parent, part)
    return parent, attr, f"{module.__name__}.{qualname}"
