"""``jobkit worker --processes N``: run N worker processes and restart any that dies.

The children are fresh interpreters (not forks), so no thread or connection state is
shared; each is an ordinary worker with its own identity and reliable-fetch lists.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

log = logging.getLogger("jobkit.supervisor")
#: A child that dies sooner than this after its start is restarted with growing delays.
_HEALTHY_AFTER = 5.0
_MAX_DELAY = 30.0


def strip_processes(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--processes N`` / ``--processes=N``."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--processes":
            skip = True
        elif not arg.startswith("--processes="):
            out.append(arg)
    return out


class Supervisor:
    """Keeps ``count`` children running ``command`` until told to stop."""

    def __init__(self, command: Sequence[str], count: int) -> None:
        self.command = list(command)
        self.count = count
        self.children: list[subprocess.Popen[bytes] | None] = [None] * count
        self.started: list[float] = [0.0] * count
        self.delays: list[float] = [0.0] * count
        self.restarts = 0
        self._stop = threading.Event()

    def _spawn(self, slot: int) -> None:
        self.children[slot] = subprocess.Popen(self.command)
        self.started[slot] = time.monotonic()
        log.info("started worker %d (pid %d)", slot, self.children[slot].pid)  # type: ignore[union-attr]

    def signal_children(self, signum: int) -> None:
        for child in self.children:
            if child is not None and child.poll() is None:
                child.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop restarting and pass ``signum`` on (children shut down gracefully)."""
        self._stop.set()
        self.signal_children(signum)

    def run(self) -> int:
        for slot in range(self.count):
            self._spawn(slot)
        next_start = [0.0] * self.count
        while not self._stop.is_set():
            now = time.monotonic()
            for slot, child in enumerate(self.children):
                if child is None or child.poll() is None:
                    if child is None and now >= next_start[slot]:
                        self._spawn(slot)
                    continue
                lived = now - self.started[slot]
                self.delays[slot] = 0.0 if lived >= _HEALTHY_AFTER else min(
                    _MAX_DELAY, max(0.5, self.delays[slot] * 2))
                log.warning("worker %d (pid %d) exited with %s after %.1fs; restarting in %.1fs",
                            slot, child.pid, child.returncode, lived, self.delays[slot])
                self.children[slot] = None
                next_start[slot] = now + self.delays[slot]
                self.restarts += 1
            self._stop.wait(0.2)
        for child in self.children:
            if child is not None:
                child.wait()
        return 0


def run(argv: Sequence[str], count: int) -> int:
    """Supervise ``count`` copies of ``jobkit`` with ``argv`` (``--processes`` removed)."""
    supervisor = Supervisor([sys.executable, "-m", "jobkit", *strip_processes(argv)], count)

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == getattr(signal, "SIGTSTP", None):
            supervisor.signal_children(signum)
        else:
            supervisor.stop(signal.SIGTERM)

    for name in ("SIGTERM", "SIGINT", "SIGTSTP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), forward)
    return supervisor.run()
