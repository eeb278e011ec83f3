"""Where ``jobkit worker`` runs: one CPU no other jobkit worker holds (a real ``flock``),
moved off it when other processes crowd it, ``--cpu`` and ``--no-pin`` as asked. The process
tests run the installed CLI on a real Redis and read the kernel's affinity of every thread."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jobkit
from jobkit import placement
from jobkit.keys import Keys
from jobkit.placement import CpuClaim, CpuWatch, Sample, claim_free_cpu, quieter_cpus
from tests.needs import require_cpus

from .helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def _sample(at: float, ours: float, **busy: float) -> Sample:
    return Sample({int(k[3:]): v for k, v in busy.items()}, ours, at)


# -- deciding where to go (two samples, 10 s apart) -----------------------------------------

def test_a_cpu_crowded_by_other_processes_is_left_for_a_quieter_one() -> None:
    before = _sample(0, 0, cpu0=0, cpu1=0, cpu2=0)
    # On CPU 0 we used 3 s and others 6 s; CPU 1 is 90% busy, CPU 2 10%.
    after = _sample(10, 3, cpu0=9, cpu1=9, cpu2=1)
    assert quieter_cpus(before, after, 0, [0, 1, 2]) == [2]


def test_a_cpu_we_fill_ourselves_is_not_crowded() -> None:
    before = _sample(0, 0, cpu0=0, cpu1=0)
    after = _sample(10, 9.5, cpu0=10, cpu1=0)
    assert quieter_cpus(before, after, 0, [0, 1]) == []


def test_no_move_unless_the_other_cpu_is_clearly_quieter() -> None:
    before = _sample(0, 0, cpu0=0, cpu1=0, cpu2=0)
    # Others take 40% of CPU 0, 20% of CPU 1 (a 20-point margin: not enough), 10% of CPU 2.
    after = _sample(10, 1, cpu0=5, cpu1=2, cpu2=1)
    assert quieter_cpus(before, after, 0, [0, 1]) == []
    assert quieter_cpus(before, after, 0, [0, 1, 2]) == [2]


class _Moves:
    def __init__(self, held: set[int]) -> None:
        self.held = held
        self.to: list[int] = []
        self.claims: list[_FakeClaim] = []

    def take(self, cpu: int) -> CpuClaim | None:
        if cpu in self.held:
            return None
        claim = _FakeClaim(cpu)
        self.claims.append(claim)
        return claim  # type: ignore[return-value]


class _FakeClaim:
    def __init__(self, cpu: int) -> None:
        self.cpu = cpu
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_the_watch_moves_to_a_quieter_cpu_no_other_worker_holds() -> None:
    moves = _Moves(held={1})
    start = _FakeClaim(0)
    watch = CpuWatch(start, [0, 1, 2], take=moves.take,  # type: ignore[arg-type]
                     move=moves.to.append)
    before = _sample(0, 0, cpu0=0, cpu1=0, cpu2=0)
    # CPU 1 is the quietest but another jobkit worker holds it: CPU 2 it is.
    watch.step(before, _sample(5, 0.5, cpu0=5, cpu1=0, cpu2=1))
    assert moves.to == [2]
    assert watch.claim.cpu == 2 and watch.moves == 1
    assert start.closed, "the old CPU is given up for other workers"
    watch.step(_sample(5, 0, cpu0=0, cpu1=0, cpu2=0), _sample(10, 4, cpu0=0, cpu1=0, cpu2=4))
    assert moves.to == [2], "it stays where nothing crowds it"


def test_the_watch_stays_when_every_quieter_cpu_is_held() -> None:
    moves = _Moves(held={1})
    watch = CpuWatch(_FakeClaim(0), [0, 1], take=moves.take,  # type: ignore[arg-type]
                     move=moves.to.append)
    watch.step(_sample(0, 0, cpu0=0, cpu1=0), _sample(5, 0, cpu0=5, cpu1=0))
    assert moves.to == [] and watch.claim.cpu == 0


def test_a_worker_filling_its_cpu_for_a_minute_says_once_how_to_use_more(
        caplog: pytest.LogCaptureFixture) -> None:
    watch = CpuWatch(_FakeClaim(0), [0, 1],  # type: ignore[arg-type]
                     take=lambda cpu: None, move=lambda cpu: None)
    caplog.set_level(logging.INFO, logger="jobkit.worker")
    for t in range(0, 90, 5):
        watch.step(_sample(t, t, cpu0=t, cpu1=0), _sample(t + 5, t + 5, cpu0=t + 5, cpu1=0))
    said = [r.getMessage() for r in caplog.records if "--no-pin" in r.getMessage()]
    assert len(said) == 1
    assert "kept CPU 0 busy for 60 s" in said[0]


# -- claims: real advisory locks ------------------------------------------------------------

def test_a_claimed_cpu_is_not_claimed_again_until_released(tmp_path: Path) -> None:
    first = CpuClaim.take(0, str(tmp_path))
    assert first is not None
    assert CpuClaim.take(0, str(tmp_path)) is None
    other = claim_free_cpu([0, 1], str(tmp_path))
    assert other is not None and other.cpu == 1
    assert claim_free_cpu([0, 1], str(tmp_path)) is None
    first.close()
    again = claim_free_cpu([0, 1], str(tmp_path))
    assert again is not None and again.cpu == 0
    again.close()
    other.close()


def test_a_lock_file_that_cannot_be_opened_counts_as_taken_and_says_where(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "no-such-dir"
    assert CpuClaim.take(3, str(missing)) is None
    assert f"cannot claim CPU 3: lock file {missing / 'jobkit-cpu-3.lock'}" in caplog.text


def test_a_failed_move_keeps_the_old_cpu_and_gives_the_new_one_back() -> None:
    moves = _Moves(held=set())
    start = _FakeClaim(0)

    def move(cpu: int) -> None:
        raise OSError(22, "Invalid argument")

    watch = CpuWatch(start, [0, 1], take=moves.take, move=move)  # type: ignore[arg-type]
    with pytest.raises(OSError):
        watch.step(_sample(0, 0, cpu0=0, cpu1=0), _sample(5, 0, cpu0=5, cpu1=0))
    assert watch.claim is start and not start.closed and watch.moves == 0
    assert [c.closed for c in moves.claims] == [True]


def test_a_claim_is_released_when_its_process_is_killed(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from jobkit.placement import CpuClaim; "
         f"c = CpuClaim.take(0, {str(tmp_path)!r}); print(c is not None, flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        assert CpuClaim.take(0, str(tmp_path)) is None
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    claim = CpuClaim.take(0, str(tmp_path))
    assert claim is not None
    claim.close()


# -- the worker process ---------------------------------------------------------------------

def _affinities(pid: int) -> set[str]:
    """Cpus_allowed_list of every thread of ``pid``."""
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue  # a thread that just ended
        out.add(next(line.split()[1] for line in status.splitlines()
                     if line.startswith("Cpus_allowed_list:")))
    return out


@pytest.fixture
def start_worker(real_settings: jobkit.Settings, tmp_path: Path
                 ) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``jobkit worker`` (the installed entry point) with a lock directory of its own."""
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    locks = tmp_path / "locks"
    locks.mkdir()

    def start(*extra: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "JOBKIT_REDIS_URL": real_settings.redis_url,
               "JOBKIT_NAMESPACE": real_settings.namespace, "TMPDIR": str(locks)}
        log = tmp_path / f"worker-{len(procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("jobkit")), "--log-level", "INFO",
                 "worker", "-r", "tests.runtime.sample_jobs", "-c", "2", *extra],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        procs.append((proc, log))
        return proc

    yield start
    for proc, log in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        print(f"--- {log.name}\n{log.read_text(errors='replace')}")


def _started(real_settings: jobkit.Settings, count: int) -> None:
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    wait_for(lambda: r.scard(keys.processes) == count, 20)


def test_workers_take_a_cpu_each_and_one_too_many_is_left_to_the_os(
        real_settings: jobkit.Settings, start_worker: Callable[..., subprocess.Popen[bytes]],
        tmp_path: Path) -> None:
    require_cpus(2)
    cpus = sorted(os.sched_getaffinity(0))
    workers = [start_worker() for _ in cpus]
    _started(real_settings, len(cpus))
    placed = [_affinities(w.pid) for w in workers]
    assert sorted(placed, key=str) == sorted(({str(c)} for c in cpus), key=str), \
        "every thread of each worker on one CPU, and no two workers on the same one"
    extra = start_worker()
    _started(real_settings, len(cpus) + 1)
    assert _affinities(extra.pid) == _affinities(os.getpid())
    logs = sorted(p.read_text() for p in tmp_path.glob("worker-*.log"))
    assert sum("pinned to CPU" in text for text in logs) == len(cpus)
    assert sum(f"each of the {len(cpus)} CPUs already has a jobkit worker" in text
               for text in logs) == 1


def test_no_pin_leaves_the_worker_to_the_os(
        real_settings: jobkit.Settings,
        start_worker: Callable[..., subprocess.Popen[bytes]]) -> None:
    require_cpus(2)
    worker = start_worker("--no-pin")
    _started(real_settings, 1)
    assert _affinities(worker.pid) == _affinities(os.getpid())


def test_a_worker_moves_off_a_cpu_another_process_keeps_busy(
        real_settings: jobkit.Settings,
        start_worker: Callable[..., subprocess.Popen[bytes]]) -> None:
    require_cpus(2)
    worker = start_worker()
    _started(real_settings, 1)
    (first,) = _affinities(worker.pid)
    hog = subprocess.Popen([sys.executable, "-c", "import os\n"
                            f"os.sched_setaffinity(0, {{{int(first)}}})\nwhile True: pass"])
    try:
        wait_for(lambda: _affinities(worker.pid) != {first}, 4 * placement.WATCH_EVERY)
        moved = _affinities(worker.pid)
    finally:
        hog.kill()
        hog.wait(10)
    assert len(moved) == 1 and first not in moved
