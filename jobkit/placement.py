"""Which CPU a ``jobkit worker`` process runs on.

A worker process's threads take turns holding the GIL. Left to the OS, they run on every CPU,
and each hand-over wakes a thread on another core: on the 2-CPU benchmark machine a job that
makes one Redis call ran at half the rate it reaches with the process on one core, where
the same hand-over is a context switch on a warm CPU (bench/throughput.py, ``redis-call``).
So ``jobkit worker`` runs on one CPU unless told otherwise:

- it takes a CPU no other jobkit worker on this host has taken: each holds an advisory lock
  (``flock``) on ``jobkit-cpu-N.lock`` in the temporary directory for as long as it lives,
  which the OS releases however the process ends; when every CPU is taken it is not pinned;
- it keeps watching: when other processes take more than a quarter of its CPU and another
  CPU is clearly quieter (:data:`MOVE_MARGIN`), it moves there (:class:`CpuWatch`);
- ``--cpu N`` pins it to N and it stays; ``--no-pin`` leaves it to the OS — for jobs whose
  work runs outside the GIL (numpy, zlib, hashing large buffers), which one CPU would cap.

Only the CLI places processes: a :class:`jobkit.Worker` started inside an application leaves
the application's process where it is. Where the OS has no ``sched_setaffinity`` nothing is
pinned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .threads import thread

log = logging.getLogger("jobkit.worker")

#: Seconds between two looks at the CPUs' load.
WATCH_EVERY = 5.0
#: Move away when other processes take more than this share of our CPU...
CROWDED = 0.25
#: ...to a CPU where they take at least this much less (no moving back and forth over noise).
MOVE_MARGIN = 0.25
#: Our own use of our CPU above which, for :data:`SATURATED_FOR` seconds, we say once that
#: work outside the GIL would need ``--no-pin``.
SATURATED = 0.95
SATURATED_FOR = 60.0


def usable_cpus() -> list[int]:
    """The CPUs this process may run on, or [] where the OS cannot pin processes."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def pin_to_cpu(cpu: int) -> None:
    """Run this process (and the threads it starts afterwards) on CPU ``cpu`` only."""
    cpus = usable_cpus()
    if not cpus:
        raise ConfigError(f"--cpu={cpu}: this OS cannot pin a process to a CPU "
                          "(no sched_setaffinity)")
    if cpu not in cpus:
        raise ConfigError(f"--cpu={cpu}: this process may only run on CPUs "
                          f"{', '.join(map(str, cpus))}")
    _set_all_threads({cpu})


def _set_all_threads(cpus: set[int]) -> None:
    """Set the affinity of every thread of this process (Linux's affinity is per thread;
    threads inherit it from the one that starts them). Twice: a thread started during the
    first pass may have copied the old mask."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        os.sched_setaffinity(0, cpus)
        return
    for _ in range(2):
        for entry in tasks.iterdir():
            with contextlib.suppress(ProcessLookupError, FileNotFoundError, ValueError):
                os.sched_setaffinity(int(entry.name), cpus)


class CpuClaim:
    """This process's hold on CPU ``cpu``: an exclusive ``flock`` other jobkit workers on this
    host see. Released by :meth:`close` or when the process ends, however it ends."""

    def __init__(self, cpu: int, fd: int) -> None:
        self.cpu = cpu
        self._fd = fd

    @classmethod
    def take(cls, cpu: int, directory: str | None = None) -> CpuClaim | None:
        """The claim on ``cpu``, or None if another process holds it."""
        import fcntl  # POSIX only; where it is missing nothing is pinned (no affinity either)

        path = Path(directory or tempfile.gettempdir()) / f"jobkit-cpu-{cpu}.lock"
        try:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            except PermissionError:
                # Created by another user: a shared lock is still one file, and flock needs
                # no write access to it.
                fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            # Unreadable (another user's, under umask 077) or no such directory: no way to
            # agree on this CPU with whoever else runs here, so it counts as taken.
            log.warning("cannot claim CPU %d: lock file %s: %s", cpu, path, e.strerror or e)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(cpu, fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the only descriptor drops the lock
            self._fd = -1


def claim_free_cpu(cpus: Sequence[int], directory: str | None = None) -> CpuClaim | None:
    """A claim on the first of ``cpus`` no other jobkit worker holds, or None."""
    for cpu in cpus:
        claim = CpuClaim.take(cpu, directory)
        if claim is not None:
            return claim
    return None


@dataclass(frozen=True)
class Sample:
    """Cumulative CPU seconds: busy per CPU (all processes, ``/proc/stat``) and this
    process's own (all its threads), at a monotonic time."""

    busy: Mapping[int, float]
    ours: float
    at: float


def read_sample() -> Sample | None:
    """Now's :class:`Sample`, or None where ``/proc/stat`` cannot be read."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    tick = float(os.sysconf("SC_CLK_TCK"))
    busy: dict[int, float] = {}
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        # user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
        values = [int(v) for v in fields]
        busy[int(name[3:])] = (sum(values[:8]) - values[3] - values[4]) / tick
    return Sample(busy, time.process_time(), time.monotonic())


def others_share(before: Sample, after: Sample, cpu: int, *, ours_on: int | None) -> float:
    """The share of CPU ``cpu`` other processes used between two samples (0 to 1). Our own
    use counts against the CPU we are pinned to, ``ours_on``."""
    wall = after.at - before.at
    if wall <= 0 or cpu not in before.busy or cpu not in after.busy:
        return 0.0
    used = after.busy[cpu] - before.busy[cpu]
    if cpu == ours_on:
        used -= after.ours - before.ours
    return min(1.0, max(0.0, used / wall))


def quieter_cpus(before: Sample, after: Sample, current: int,
                 cpus: Sequence[int]) -> list[int]:
    """Where to move from ``current``, best first: none unless other processes crowd it
    (:data:`CROWDED`); then the CPUs where they use at least :data:`MOVE_MARGIN` less."""
    here = others_share(before, after, current, ours_on=current)
    if here <= CROWDED:
        return []
    shares = {cpu: others_share(before, after, cpu, ours_on=current)
              for cpu in cpus if cpu != current}
    return sorted((cpu for cpu, share in shares.items() if share <= here - MOVE_MARGIN),
                  key=lambda cpu: shares[cpu])


class CpuWatch:
    """Keeps a pinned worker on a CPU other processes leave to it: every :data:`WATCH_EVERY`
    seconds, moves to a quieter CPU no other jobkit worker holds (see :func:`quieter_cpus`)."""

    def __init__(self, claim: CpuClaim, cpus: Sequence[int], *,
                 every: float = WATCH_EVERY,
                 take: Callable[[int], CpuClaim | None] = CpuClaim.take,
                 move: Callable[[int], None] = lambda cpu: _set_all_threads({cpu})) -> None:
        self.claim = claim
        self.cpus = list(cpus)
        self.every = every
        self._take = take
        self._move = move
        self.moves = 0
        self._saturated_since: float | None = None
        self._said_saturated = False
        self._stop = threading.Event()
        self._thread = thread(self._run, "cpu-watch")

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop watching and give the CPU up."""
        self._stop.set()
        self.claim.close()

    def step(self, before: Sample, after: Sample) -> None:
        """Act on what two samples say: move, or note a CPU we fill ourselves."""
        current = self.claim.cpu
        for cpu in quieter_cpus(before, after, current, self.cpus):
            claim = self._take(cpu)
            if claim is None:
                continue  # another jobkit worker's
            here = others_share(before, after, current, ours_on=current)
            try:
                self._move(cpu)
            except OSError:
                claim.close()  # still where we were: keep that claim, give this one back
                raise
            self.claim.close()
            self.claim = claim
            self.moves += 1
            log.info("moved to CPU %d: other processes used %.0f%% of CPU %d", cpu,
                     100 * here, current)
            return
        self._note_saturation(before, after)

    def _note_saturation(self, before: Sample, after: Sample) -> None:
        wall = after.at - before.at
        if self._said_saturated or wall <= 0:
            return
        if (after.ours - before.ours) / wall < SATURATED:
            self._saturated_since = None
            return
        if self._saturated_since is None:
            self._saturated_since = before.at
        elif after.at - self._saturated_since >= SATURATED_FOR:
            self._said_saturated = True
            log.info("this worker has kept CPU %d busy for %.0f s: if its jobs spend that time "
                     "outside the GIL (numpy, zlib, hashing large data), --no-pin or "
                     "--processes N lets them use more CPUs", self.claim.cpu,
                     after.at - self._saturated_since)

    def _run(self) -> None:
        before = read_sample()
        while before is not None and not self._stop.wait(self.every):
            after = read_sample()
            if after is None:
                return
            try:
                self.step(before, after)
            except OSError as e:  # a CPU taken offline, say: stay where we are
                log.warning("cannot move this worker to another CPU: %s", e)
            before = after


def place_worker(*, cpu: int | None, pin: bool) -> CpuWatch | CpuClaim | None:
    """Place this ``jobkit worker`` process before it starts any thread: on ``cpu`` if
    given (claimed if free, so that other workers avoid it), nowhere if not ``pin``, else on
    a free CPU it then keeps watching (the returned :class:`CpuWatch`, started)."""
    if cpu is not None:
        pin_to_cpu(cpu)
        return CpuClaim.take(cpu)
    cpus = usable_cpus()
    if not pin or len(cpus) < 2:
        return None
    claim = claim_free_cpu(cpus)
    if claim is None:
        log.info("not pinned: each of the %d CPUs already has a jobkit worker", len(cpus))
        return None
    _set_all_threads({claim.cpu})
    log.info("pinned to CPU %d (--no-pin to let the OS place this worker's threads)",
             claim.cpu)
    watch = CpuWatch(claim, cpus)
    watch.start()
    return watch
