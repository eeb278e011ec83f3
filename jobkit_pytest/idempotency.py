"""``assert_idempotent``: property-based proof that redelivering a job changes nothing.

For each input Hypothesis generates: reset, set up, run the job once through the worker and
snapshot ``observe()``; deliver the same payload again and compare. For each crash point and
each call k of it in the clean run: reset, set up, run the job until it "crashes" right after
call k returns (unacknowledged, as if the process died), redeliver it, and compare the final
snapshot with the clean run's.
"""

from __future__ import annotations

import difflib
import pprint
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import jobkit

from .crash import CrashPoint
from .drain import raise_failure, to_run
from .errors import JobkitTestError, NotIdempotentError, SimulatedCrash, UsageError
from .matching import show
from .runner import Waiting

if TYPE_CHECKING:
    from .harness import Harness


class _Example:
    """Runs the scenarios for one generated input."""

    def __init__(
        self,
        harness: Harness,
        job: type[jobkit.Job],
        args: list[Any],
        *,
        observe: Callable[[], Any],
        setup: Callable[..., Any] | None,
        reset: Callable[[], Any] | None,
    ) -> None:
        self.harness = harness
        self.job = job
        self.args = args
        self.observe = observe
        self.setup = setup
        self.reset = reset

    def fresh(self) -> Waiting:
        """Reset the world, set it up for ``args``, and enqueue the job; its queued entry."""
        if self.reset is not None:
            self.reset()
        self.harness.clear()
        if self.setup is not None:
            self.setup(*self.args)
        jid = self.job.perform_async(*self.args)
        if jid is None:
            raise UsageError(
                f"{self.job.name}.perform_async{tuple(self.args)!r} was dropped (by a client "
                "middleware or a unique lock), so there is nothing to check"
            )
        for item in self.harness.runner.queued():
            if item.payload.get("jid") == jid:
                return item
        raise JobkitTestError(f"{self.job.name} job {jid} is not in any queue after enqueue")

    def deliver(self, item: Waiting, *, again: bool) -> None:
        """Run ``item`` to completion; ``again`` first puts it back on its queue (from the
        in-progress list if it crashed). A failure raises the job's own exception."""
        runner = self.harness.runner
        if again:
            item = runner.redeliver(item)
        outcome = runner.run(item)
        run = to_run(outcome, None)
        if run.status != "done":
            if run.exc is None:
                raise JobkitTestError(
                    f"{self.job.name}{tuple(self.args)!r} ended {run.status!r} when redelivered"
                )
            raise_failure(run, "assert_idempotent()")

    def compare(self, expected: Any, actual: Any, scenario: str) -> None:
        if expected == actual:
            return
        before = pprint.pformat(expected, width=80).splitlines()
        after = pprint.pformat(actual, width=80).splitlines()
        diff = "\n".join(
            "    " + line for line in difflib.ndiff(before, after) if not line.startswith("?")
        )
        raise NotIdempotentError(
            f"{self.job.name} is not idempotent: {scenario} changed what observe() sees\n"
            f"  args: {show(self.args)}\n"
            f"  after one clean run:  {expected!r}\n"
            f"  after the redelivery: {actual!r}\n"
            f"  diff (- one run, + redelivered):\n{diff}"
        )

    def run(self, points: Sequence[CrashPoint]) -> None:
        item = self.fresh()
        with ExitStack() as stack:
            for point in points:
                stack.enter_context(point.armed(None))
            self.deliver(item, again=False)
        calls = {point: point.calls for point in points}
        once = self.observe()
        self.deliver(item, again=True)
        self.compare(once, self.observe(), "running it twice")
        for point in points:
            for k in range(1, calls[point] + 1):
                item = self.fresh()
                try:
                    with point.armed(k):
                        self.harness.runner.run(item)
                except SimulatedCrash:
                    pass
                self.deliver(item, again=True)
                self.compare(
                    once,
                    self.observe(),
                    f"crashing right after call {k} of {point.label} and redelivering",
                )


def _callable(value: Any, name: str, *, required: bool = False) -> None:
    if (value is not None or required) and not callable(value):
        raise UsageError(f"{name}={value!r} must be callable")


def check(
    harness: Harness,
    job: type[jobkit.Job],
    *,
    observe: Callable[[], Any],
    args: Any,
    setup: Callable[..., Any] | None,
    reset: Callable[[], Any] | None,
    redeliver_after: Iterable[Any] | str,
    max_examples: int | None,
) -> None:
    """The body of :meth:`Harness.assert_idempotent`."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from .strategies import args_for

    _callable(observe, "observe", required=True)
    _callable(setup, "setup")
    _callable(reset, "reset")
    if max_examples is not None and (
        isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1
    ):
        raise UsageError(f"max_examples={max_examples!r} must be at least one")
    strategy = args_for(job) if args is None else args
    if not isinstance(strategy, st.SearchStrategy):
        raise UsageError(f"args={args!r} must be a Hypothesis strategy of argument tuples")
    targets = [redeliver_after] if isinstance(redeliver_after, str) else list(redeliver_after)
    points = [CrashPoint(target) for target in targets]

    overrides: dict[str, Any] = {
        "deadline": None,
        # Fixtures are reset per example by reset()/setup(); the job may be slow.
        "suppress_health_check": [
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    }
    if max_examples is not None:
        overrides["max_examples"] = max_examples

    def example(job_args: Any) -> None:
        if not isinstance(job_args, tuple | list):
            raise UsageError(f"args strategy produced {job_args!r}; it must produce tuples")
        _Example(
            harness, job, list(job_args), observe=observe, setup=setup, reset=reset
        ).run(points)

    # Named after the job: Hypothesis keys its example database (and its report) by name.
    example.__name__ = example.__qualname__ = "idempotency_of_" + re.sub(r"\W", "_", job.name)
    check_examples = settings(**overrides)(given(strategy)(example))
    was_inline = harness.inline
    harness.inline = False
    try:
        check_examples()
    finally:
        harness.inline = was_inline
        harness.clear()
