"""Real worker processes: SIGKILL mid-job is recovered by another worker; SIGTERM requeues
unfinished work. These run ``python -m jobkit worker`` against the real Redis."""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

import jobkit
from jobkit import supervisor as sup
from jobkit.keys import Keys
from tests.needs import require_cpus

from .sample_jobs import GcFreezeJob, RecordJob, SlowJob

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def spawn(real_settings: jobkit.Settings, tmp_path: Path,
          request: pytest.FixtureRequest) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []

    def start(*extra: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "JOBKIT_REDIS_URL": real_settings.redis_url,
               "JOBKIT_NAMESPACE": real_settings.namespace, "JOBKIT_RECOVERY_TIMEOUT": "2",
               "JOBKIT_HEARTBEAT_INTERVAL": "0.5", "JOBKIT_POLL_INTERVAL": "0.5"}
        log = tmp_path / f"worker-{len(logs)}.log"
        logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jobkit", "--log-level", "WARNING", "worker",
                 "-r", "tests.runtime.sample_jobs", "-c", "2", *extra],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    for log in logs:
        # Shown by pytest only when the test failed.
        print(f"--- {log.name}\n{log.read_text(errors='replace')}")


def _members(r: redis.Redis, ns: str, name: str) -> set[bytes]:
    return r.smembers(f"{ns}:test:{name}")


def test_killed_worker_job_is_completed_by_another_worker(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    r = jobkit.get_client().redis
    ns = real_settings.namespace
    SlowJob.perform_async("victim", 3.0)
    first = spawn()
    wait_for(lambda: b"victim" in _members(r, ns, "started"), 15, "the job to start")
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    assert b"victim" not in _members(r, ns, "done")
    keys = Keys(ns)
    assert r.llen(keys.queue("default")) == 0, "the job sat in the dead worker's list"
    second = spawn()
    wait_for(lambda: b"victim" in _members(r, ns, "done"), 20, "recovery and completion")
    assert r.hget(f"{ns}:test:runs", "victim") == b"1"
    second.send_signal(signal.SIGTERM)
    assert second.wait(15) == 0
    assert r.scard(keys.inprogress_index) == 0


def test_sigterm_requeues_the_unfinished_job_and_exits_cleanly(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    r = jobkit.get_client().redis
    ns = real_settings.namespace
    keys = Keys(ns)
    SlowJob.perform_async("long", 4.0)
    worker = spawn("--timeout", "0.5")
    wait_for(lambda: b"long" in _members(r, ns, "started"), 15, "the job to start")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert r.llen(keys.queue("default")) == 1
    assert r.scard(keys.processes) == 0
    assert not [k for k in r.scan_iter(match=f"{ns}:jobkit:inprogress:*")]
    successor = spawn()
    wait_for(lambda: b"long" in _members(r, ns, "done"), 20, "the next worker to finish it")
    successor.send_signal(signal.SIGTERM)
    assert successor.wait(15) == 0


def test_the_worker_process_freezes_its_startup_objects_out_of_the_collector(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    r = jobkit.get_client().redis
    key = f"{real_settings.namespace}:test:frozen"
    GcFreezeJob.perform_async()
    worker = spawn()
    wait_for(lambda: r.get(key) is not None, 15, "the job to run")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    # The modules, the job classes and the worker itself: many thousands of objects.
    assert int(r.get(key)) > 10_000


def test_worker_heartbeat_is_visible_in_sidekiq_layout(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    import json

    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    SlowJob.perform_async("busy", 2.0)
    worker = spawn("-q", "default,2", "-q", "low")
    wait_for(lambda: b"busy" in _members(r, real_settings.namespace, "started"), 15, "start")
    wait_for(lambda: r.scard(keys.processes) == 1, 5, "the process to register")
    [identity] = [m.decode() for m in r.smembers(keys.processes)]
    wait_for(lambda: r.hget(keys.process(identity), "busy") == b"1", 5, "busy count 1")
    info = json.loads(r.hget(keys.process(identity), "info"))  # type: ignore[arg-type]
    assert info["pid"] == worker.pid and info["concurrency"] == 2
    assert info["queues"] == ["default", "low"] and info["identity"] == identity
    assert 0 < r.ttl(keys.process(identity)) <= 60
    [entry] = r.hvals(keys.workers(identity))
    assert json.loads(entry)["payload"]["class"] == "sample.SlowJob"
    [entry7] = r.hvals(keys.work(identity))
    assert json.loads(json.loads(entry7)["payload"])["args"] == ["busy", 2.0]
    r.lpush(keys.signals(identity), "TERM")
    assert worker.wait(15) == 0


def test_processes_option_runs_n_workers_and_restarts_a_dead_one(
    real_settings: jobkit.Settings, tmp_path: Path
) -> None:
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    env = {**os.environ, "JOBKIT_REDIS_URL": real_settings.redis_url,
           "JOBKIT_NAMESPACE": real_settings.namespace, "JOBKIT_HEARTBEAT_INTERVAL": "0.3",
           "JOBKIT_RECOVERY_TIMEOUT": "2"}
    with (tmp_path / "supervisor.log").open("wb") as log:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "jobkit", "--log-level", "WARNING", "worker", "--processes",
             "2", "-r", "tests.runtime.sample_jobs", "-c", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: r.scard(keys.processes) == 2, 20, "two worker processes")
        pids = {json.loads(r.hget(keys.process(i.decode()), "info"))["pid"]  # type: ignore[arg-type]
                for i in r.smembers(keys.processes)}
        victim = sorted(pids)[0]
        os.kill(victim, signal.SIGKILL)

        def replaced() -> bool:
            live = {json.loads(info)["pid"] for i in r.smembers(keys.processes)
                    if (info := r.hget(keys.process(i.decode()), "info"))}
            return len(live - {victim}) == 2
        wait_for(replaced, 20, "the killed worker to be replaced")
        SlowJob.perform_async("via-supervisor", 0.1)
        wait_for(lambda: b"via-supervisor" in _members(r, real_settings.namespace, "done"), 20,
                 "a job to run")
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(30) == 0
    print((tmp_path / "supervisor.log").read_text())


def _start_supervisor(settings: jobkit.Settings, log: Path, *extra: str
                      ) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JOBKIT_REDIS_URL": settings.redis_url,
           "JOBKIT_NAMESPACE": settings.namespace, "JOBKIT_HEARTBEAT_INTERVAL": "0.3",
           "JOBKIT_RECOVERY_TIMEOUT": "2"}
    with log.open("wb") as out:
        # Its own session, as a shell gives a foreground job its own process group.
        return subprocess.Popen(
            [sys.executable, "-m", "jobkit", "--log-level", "INFO", "worker", "--processes",
             "2", "-r", "tests.runtime.sample_jobs", "-c", "2", *extra],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _worker_pids(r: redis.Redis, keys: Keys) -> set[int]:
    return {json.loads(info)["pid"] for i in r.smembers(keys.processes)
            if (info := r.hget(keys.process(i.decode()), "info"))}


def _cpus_allowed(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(line.split()[1] for line in status.splitlines()
                if line.startswith("Cpus_allowed_list:"))


@pytest.mark.parametrize("pin", [True, False], ids=["pinned", "no-pin"])
def test_processes_get_a_cpu_each_unless_no_pin(real_settings: jobkit.Settings,
                                                 tmp_path: Path, pin: bool) -> None:
    require_cpus(2)
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    log = tmp_path / "supervisor.log"
    supervisor = _start_supervisor(real_settings, log, *([] if pin else ["--no-pin"]))
    try:
        wait_for(lambda: len(_worker_pids(r, keys)) == 2, 20, "two worker processes")
        allowed = sorted(_cpus_allowed(pid) for pid in _worker_pids(r, keys))
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(30) == 0, log.read_text()
    cpus = sorted(os.sched_getaffinity(0))
    if pin:
        assert allowed == [str(cpus[0]), str(cpus[1])]
    else:
        assert allowed == [_cpus_allowed(os.getpid())] * 2


def test_ctrl_c_stops_the_processes_gracefully(real_settings: jobkit.Settings,
                                               tmp_path: Path) -> None:
    # A terminal sends SIGINT to the whole foreground group; the children must see one
    # signal (the supervisor's TERM), not two, which would make them exit at once.
    r = jobkit.get_client().redis
    ns = real_settings.namespace
    keys = Keys(ns)
    log = tmp_path / "supervisor.log"
    supervisor = _start_supervisor(real_settings, log, "--timeout", "0.5")
    try:
        wait_for(lambda: len(_worker_pids(r, keys)) == 2, 20, "two worker processes")
        SlowJob.perform_async("interrupted", 5.0)
        wait_for(lambda: b"interrupted" in _members(r, ns, "started"), 15, "the job to start")
    finally:
        os.killpg(supervisor.pid, signal.SIGINT)
        assert supervisor.wait(30) == 0, log.read_text()
    text = log.read_text()
    assert "second signal" not in text, text
    assert r.llen(keys.queue("default")) == 1, "the running job was not requeued"
    assert not r.exists(keys.recovered)
    assert r.scard(keys.processes) == 0


def test_processes_stop_when_the_supervisor_is_killed(real_settings: jobkit.Settings,
                                                      tmp_path: Path) -> None:
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    log = tmp_path / "supervisor.log"
    supervisor = _start_supervisor(real_settings, log)
    wait_for(lambda: len(_worker_pids(r, keys)) == 2, 20, "two worker processes")
    children = _worker_pids(r, keys)
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait(10)
    # Orphans outside the supervisor's process group would otherwise work on unsupervised.
    wait_for(lambda: r.scard(keys.processes) == 0, 20, "the orphaned workers to stop")
    for pid in children:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists()  # type: ignore[misc]
                 or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], 10,
                 f"worker {pid} to exit")


def _enqueue_by_name(settings: jobkit.Settings, name: str, args: str, queue: str) -> None:
    from jobkit.cli import main

    assert main(["enqueue", name, args, "--queue", queue, "--redis-url", settings.redis_url,
                 "--namespace", settings.namespace]) == 0


def _one_worker(r: redis.Redis, keys: Keys) -> str:
    wait_for(lambda: r.scard(keys.processes) == 1, 15, "the worker to register")
    [identity] = [m.decode() for m in r.smembers(keys.processes)]
    return identity


def test_strict_works_the_queues_in_the_given_order_whatever_the_weights(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    r = jobkit.get_client().redis
    ns = real_settings.namespace
    for i in range(4):
        RecordJob.set(queue="high").perform_async(f"high-{i}")
        RecordJob.set(queue="low").perform_async(f"low-{i}")
    # Weighted, "high,100" would come first 100 times in 101; strict, "low" always does.
    worker = spawn("--strict", "-q", "low", "-q", "high,100", "-c", "1", "--prefetch", "1")
    wait_for(lambda: r.llen(f"{ns}:test:record") == 8, 15, "the eight jobs to run")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert [v.decode() for v in r.lrange(f"{ns}:test:record", 0, -1)] == [
        *(f"'low-{i}'" for i in range(4)), *(f"'high-{i}'" for i in range(4))]


def test_require_imports_jobs_from_a_py_path_with_its_siblings_importable(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    r = jobkit.get_client().redis
    ns = real_settings.namespace
    app = tmp_path / "some" / "app"
    app.mkdir(parents=True)
    (app / "prices_for_path_test.py").write_text("VAT = 20\n")
    (app / "path_test_jobs.py").write_text(
        "import jobkit\n"
        "from prices_for_path_test import VAT  # a sibling module of this file\n\n"
        "class PriceJob(jobkit.Job):\n"
        "    name = 'path_test.PriceJob'\n\n"
        "    def perform(self, net: int) -> None:\n"
        "        client = jobkit.get_client()\n"
        "        client.redis.rpush(f'{client.settings.namespace}:test:priced',\n"
        "                           net * (100 + VAT) // 100)\n")
    relative = os.path.relpath(app / "path_test_jobs.py", ROOT)
    assert "/" in relative and not relative.startswith("/")
    _enqueue_by_name(real_settings, "path_test.PriceJob", "[50]", "default")
    worker = spawn("-r", relative)
    wait_for(lambda: r.llen(f"{ns}:test:priced") == 1, 15, "the job from the file to run")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert r.lrange(f"{ns}:test:priced", 0, -1) == [b"60"]
    assert r.zcard(Keys(ns).dead) == 0


def test_cpu_pins_the_worker_and_all_its_threads_to_that_cpu(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    require_cpus(2)
    r = jobkit.get_client().redis
    keys = Keys(real_settings.namespace)
    cpu = sorted(os.sched_getaffinity(0))[-1]
    worker = spawn("--cpu", str(cpu))
    _one_worker(r, keys)
    tasks = Path(f"/proc/{worker.pid}/task")
    # It registers before it starts its threads: main, exchanger, housekeeper, two executors.
    wait_for(lambda: len(list(tasks.iterdir())) >= 5, 15, "the worker's threads to start")
    threads = list(tasks.iterdir())
    allowed = {_cpus_allowed_of(task) for task in threads}
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert allowed == {str(cpu)}


def _cpus_allowed_of(proc_dir: Path) -> str:
    status = (proc_dir / "status").read_text()
    return next(line.split()[1] for line in status.splitlines()
                if line.startswith("Cpus_allowed_list:"))


def test_sigtstp_quiets_the_worker_which_keeps_running_and_fetches_nothing(
    real_settings: jobkit.Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    r = jobkit.get_client().redis
    ns = real_settings.namespace
    keys = Keys(ns)
    worker = spawn()
    identity = _one_worker(r, keys)
    worker.send_signal(signal.SIGTSTP)
    wait_for(lambda: r.hget(keys.process(identity), "quiet") == b"true", 10,
             "the heartbeat to say quiet")
    # Not stopped by the signal's default action: the process goes on beating.
    assert Path(f"/proc/{worker.pid}/stat").read_text().split(") ")[1][0] != "T"
    RecordJob.perform_async("after-quiet")
    for _ in range(2):  # two heartbeats later (0.5 s each) the job is still waiting
        beat = r.hget(keys.process(identity), "beat")
        wait_for(lambda beat=beat: r.hget(keys.process(identity), "beat") != beat,  # type: ignore[misc]
                 10, "a heartbeat")
    assert r.llen(keys.queue("default")) == 1 and not r.exists(f"{ns}:test:record")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
    assert r.llen(keys.queue("default")) == 1, "the waiting job must stay queued"


def _supervise_a_failing_child(restarts: int) -> tuple[list[float], list[float]]:
    """Run a one-child Supervisor whose worker cannot start until it has restarted it
    ``restarts`` times; returns the delays it announced and the waits it really made."""
    events: list[tuple[str, float, float]] = []

    class Record(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg.startswith("started worker"):
                events.append(("start", record.created, 0.0))
            elif record.msg.startswith("worker %d (pid %d) exited"):
                events.append(("exit", record.created, float(record.args[-1])))  # type: ignore[index, arg-type]

    handler = Record()
    logger = logging.getLogger("jobkit.supervisor")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # Exits at once with "cannot import": the child that keeps dying at start.
    supervisor = sup.Supervisor(["worker", "-r", "no_such_module_for_supervisor_test"], 1,
                                fork=False)
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: supervisor.restarts >= restarts, 30, f"{restarts} restarts")
    finally:
        supervisor.stop()
        thread.join(15)
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert not thread.is_alive()
    announced = [delay for kind, _, delay in events if kind == "exit"][:restarts]
    waits = [later[1] - exit_[1] for exit_, later in itertools.pairwise(events)
             if exit_[0] == "exit" and later[0] == "start"][: restarts - 1]
    return announced, waits


def test_supervisor_restarts_a_child_dying_at_start_with_growing_delays() -> None:
    announced, waits = _supervise_a_failing_child(3)
    assert announced == [0.5, 1.0, 2.0]
    assert len(waits) == 2
    for delay, waited in zip(announced, waits, strict=False):
        assert delay <= waited < delay + 1.0, (announced, waits)


def test_supervisor_restarts_a_child_that_ran_healthily_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every child counts as having lived long enough: no delay grows.
    monkeypatch.setattr(sup, "_HEALTHY_AFTER", 0.0)
    announced, waits = _supervise_a_failing_child(2)
    assert announced == [0.0, 0.0]
    assert waits[0] < 0.5
