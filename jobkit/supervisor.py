"""``jobkit worker --processes N``: run N worker processes and restart any that dies.

Where the OS can, children are forked from the supervisor, which by then has imported
jobkit and redis-py but holds no thread, no connection and none of the app's modules (each
child imports its ``-r`` modules itself): a child starts working in milliseconds instead of
the interpreter's start-up, which matters most when it restarts one that died. Elsewhere they
are fresh interpreters. Either way each is an ordinary worker with its own identity and
reliable-fetch lists.

When there are no more children than CPUs this process may use, child ``i`` is pinned to
the ``i``-th of those CPUs (``--cpu``): a process's threads then hand the GIL to each other on
one warm core instead of migrating, and two workers never queue on the same core while
another is idle. On the 2-CPU benchmark machine this took ``--processes 2`` from 1.48x to
1.75x one process in steady state (bench/scaling.py). ``--no-pin`` turns it off.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import NoReturn

from .placement import usable_cpus

log = logging.getLogger("jobkit.supervisor")
#: A child that dies sooner than this after its start is restarted with growing delays.
_HEALTHY_AFTER = 5.0
_MAX_DELAY = 30.0


def strip_processes(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--processes N`` / ``--processes=N`` and ``--no-pin``."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--processes":
            skip = True
        elif not arg.startswith("--processes=") and arg != "--no-pin":
            out.append(arg)
    return out


def cpu_plan(count: int, *, pin: bool) -> Sequence[int | None]:
    """The CPU for each of ``count`` children: one each while there are enough, else None."""
    cpus = usable_cpus() if pin else []
    if count > len(cpus):
        if pin:
            log.info("not pinning %d worker processes to %d usable CPU(s)", count, len(cpus))
        return [None] * count
    return list(cpus[:count])


class _Forked:
    """The part of :class:`subprocess.Popen` the supervisor uses, for a forked child."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)


Child = subprocess.Popen[bytes] | _Forked


#: The child's entry point: ``jobkit``'s command line, ``main(argv) -> exit status``.
ChildMain = Callable[[list[str]], int]


def _child_main(main: ChildMain, argv: list[str], parent: int) -> NoReturn:
    """Run ``main(argv)`` in a just-forked child and never return."""
    code = 1
    try:
        for name in ("SIGTERM", "SIGINT", "SIGTSTP"):
            # The supervisor's handlers would signal the siblings from here.
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        # Out of the terminal's process group: a Ctrl-C reaches the supervisor alone, which
        # passes one TERM on. Both arriving would be a second signal: an immediate exit.
        os.setpgid(0, 0)
        _stop_with_parent(parent)
        code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        log.exception("worker process failed")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _stop_with_parent(parent: int) -> None:
    """Have Linux send this process a TERM when the supervisor dies, even by SIGKILL: the
    child is out of its process group, so nothing else would stop it."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    except (OSError, AttributeError):
        log.warning("cannot ask to be stopped with the supervisor (prctl unavailable)")
    if os.getppid() != parent:
        raise SystemExit(0)  # it died before prctl took effect; nothing was fetched yet


class Supervisor:
    """Keeps ``count`` children running ``jobkit ARGV`` until told to stop.

    A forked child calls ``main`` (the CLI's, handed in so that this module needs nothing
    of the CLI); without fork, or without ``main``, it runs ``python -m jobkit ARGV``."""

    def __init__(self, argv: Sequence[str], count: int, *,
                 cpus: Sequence[int | None] | None = None, fork: bool | None = None,
                 main: ChildMain | None = None) -> None:
        self.argv = list(argv)
        self.main = main
        self.count = count
        self.cpus = list(cpus) if cpus is not None else [None] * count
        self.fork = main is not None and (hasattr(os, "fork") if fork is None else fork)
        self.children: list[Child | None] = [None] * count
        self.started: list[float] = [0.0] * count
        self.delays: list[float] = [0.0] * count
        self.restarts = 0
        self._stop = threading.Event()

    def _spawn(self, slot: int) -> None:
        cpu = self.cpus[slot]
        # A child without a CPU of its own is not placed by itself either.
        argv = [*self.argv, *(["--no-pin"] if cpu is None else ["--cpu", str(cpu)])]
        child: Child
        if self.fork and self.main is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            parent = os.getpid()
            pid = os.fork()
            if pid == 0:
                _child_main(self.main, argv, parent)
            child = _Forked(pid)
        else:
            child = subprocess.Popen([sys.executable, "-m", "jobkit", *argv])
        self.children[slot] = child
        self.started[slot] = time.monotonic()
        log.info("started worker %d (pid %d)", slot, child.pid)

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


def run(argv: Sequence[str], count: int, *, main: ChildMain | None = None,
        pin: bool = True) -> int:
    """Supervise ``count`` copies of ``jobkit`` with ``argv`` (``--processes`` removed), each
    on a CPU of its own if ``pin`` and there are enough; forked children run ``main``."""
    supervisor = Supervisor(strip_processes(argv), count, cpus=cpu_plan(count, pin=pin),
                            main=main)

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == getattr(signal, "SIGTSTP", None):
            supervisor.signal_children(signum)
        else:
            supervisor.stop(signal.SIGTERM)

    for name in ("SIGTERM", "SIGINT", "SIGTSTP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), forward)
    return supervisor.run()
