"""Small shared test doubles for the runtime tests."""

from __future__ import annotations


class Clock:
    """A settable clock for ``Settings(clock=...)``: tests move ``now`` instead of sleeping."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
