"""The chaos scenarios, shared by the pytest suite (CI sizes) and ``python -m tests.chaos``.

Each scenario runs real worker subprocesses, checks what it can prove, and returns a
:class:`Result` whose ``problems`` list is empty when every check held."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

import jobkit
from jobkit.keys import Keys

from .chaos_jobs import ChaosJob, LongJob, uncertain_writes
from .harness import PrivateRedis, WorkerPool, wait_for

QUEUE = "chaos"


@dataclass
class Result:
    """What a scenario observed; ``problems`` lists every check that failed."""

    scenario: str
    jobs: int
    kills: int = 0
    lost: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    notes: str = ""
    #: Jobs found stuck in a live worker's in-progress list when a wait timed out.
    stranded: int = 0
    #: Jobs recovery gave up on as poison pills: in progress in more than ``max_recoveries``
    #: killed workers, so in the dead set by design (each checked against the kills).
    poisoned: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = (f"chaos {self.scenario}: jobs={self.jobs} kills={self.kills} lost={self.lost} "
                f"duplicates={self.duplicates} seconds={self.seconds:.1f}")
        if self.poisoned:
            line += f" poisoned={self.poisoned}"
        return f"{line} {self.notes}".rstrip()

    def report(self) -> str:
        """The summary and, when checks failed, each problem on its own line."""
        return "\n".join([self.summary(), *(f"  - {p}" for p in self.problems)])


class Store:
    """Reads a scenario's state from Redis: queue, sets, in-progress lists, side effects."""

    def __init__(self, redis_url: str, namespace: str) -> None:
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=1,
                                          socket_timeout=5)
        self.namespace = namespace
        self.keys = Keys(namespace)

    def chaos(self, name: str) -> str:
        return f"{self.namespace}:chaos:{name}" if self.namespace else f"chaos:{name}"

    def runs(self) -> dict[int, int]:
        raw: dict[bytes, bytes] = self.redis.hgetall(self.chaos("runs"))  # type: ignore[assignment]
        return {int(k): int(v) for k, v in raw.items()}

    def ran(self) -> int:
        return int(self.redis.hlen(self.chaos("runs")))  # type: ignore[arg-type]

    def dead_ids(self) -> set[int]:
        """The ChaosJob ids in the dead set."""
        raws: list[bytes] = self.redis.zrange(self.keys.dead, 0, -1)  # type: ignore[assignment]
        return {int(json.loads(raw)["args"][0]) for raw in raws}

    def queued(self) -> int:
        return int(self.redis.llen(self.keys.queue(QUEUE)))  # type: ignore[arg-type]

    def inprogress(self) -> int:
        """Jobs sitting in any process's in-progress list."""
        pattern = self.keys.inprogress("*", "*")
        return sum(int(self.redis.llen(k))  # type: ignore[arg-type]
                   for k in self.redis.scan_iter(match=pattern, count=1000))

    def stranded(self) -> int:
        """Jobs in the in-progress lists of processes that are still alive (liveness key set):
        recovery leaves those alone, so only their own worker can ever run them."""
        total = 0
        prefix = self.keys.inprogress("", "")[:-1]
        for key in self.redis.scan_iter(match=self.keys.inprogress("*", "*"), count=1000):
            identity = key.decode()[len(prefix):].rsplit("|", 1)[0]
            if self.redis.exists(self.keys.alive(identity)):
                total += int(self.redis.llen(key))  # type: ignore[arg-type]
        return total

    def held_by(self, pid: int) -> set[int]:
        """The ChaosJob ids in the in-progress lists of worker process ``pid`` on this host:
        what it is running or has fetched and not yet acknowledged."""
        identity = f"{socket.gethostname()}:{pid}:*"
        ids: set[int] = set()
        for key in self.redis.scan_iter(match=self.keys.inprogress(identity, "*"), count=1000):
            raws: list[bytes] = self.redis.lrange(key, 0, -1)  # type: ignore[assignment]
            ids.update(int(json.loads(raw)["args"][0]) for raw in raws)
        return ids

    def is_up(self, pid: int) -> bool:
        """Whether worker process ``pid`` on this host has registered its liveness key."""
        pattern = self.keys.alive(f"{socket.gethostname()}:{pid}:*")
        return any(True for _ in self.redis.scan_iter(match=pattern, count=1000))

    def ran_by(self) -> dict[tuple[int, int], int]:
        """How often each (job id, pid) pair ran a ChaosJob."""
        raw: dict[bytes, bytes] = self.redis.hgetall(self.chaos("ran-by"))  # type: ignore[assignment]
        pairs = (k.decode().split(":") for k in raw)
        return {(int(i), int(pid)): int(n) for (i, pid), n in zip(pairs, raw.values(),
                                                                   strict=True)}

    def zcard(self, key: str) -> int:
        return int(self.redis.zcard(key))  # type: ignore[arg-type]

    def settled(self) -> bool:
        """Nothing waiting anywhere: queue, in-progress lists, schedule and retry sets."""
        return (self.queued() == 0 and self.inprogress() == 0
                and self.zcard(self.keys.retry) == 0 and self.zcard(self.keys.schedule) == 0)

    def leftovers(self) -> str:
        return (f"queue={self.queued()} inprogress={self.inprogress()} "
                f"retry={self.zcard(self.keys.retry)} schedule={self.zcard(self.keys.schedule)} "
                f"dead={self.zcard(self.keys.dead)}")

    def close(self) -> None:
        self.redis.close()


def wait_until_done(store: Store, jobs: int, timeout: float, *, stall: float = 8.0,
                    dead_counts: bool = False) -> None:
    """Wait until all ``jobs`` ran (or, with ``dead_counts``, ran or died) and nothing is left
    waiting; give up after ``timeout``, or sooner when no job ran for ``stall`` seconds
    (several recovery timeouts)."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while True:
        ran = store.ran()
        ended = len(store.runs().keys() | store.dead_ids()) if dead_counts else ran
        if ended >= jobs and store.settled():
            return
        now = time.monotonic()
        if ran != last:
            last, last_change = ran, now
        if now >= deadline or now - last_change >= stall:
            waited = (f"no job ran for {now - last_change:.0f}s" if now < deadline
                      else f"timed out after {timeout:.0f}s")
            raise AssertionError(f"{waited} waiting for every job to run and every list to "
                                 "empty")
        time.sleep(0.05)


def enqueue_chaos_jobs(redis_url: str, namespace: str, count: int, *, max_sleep_ms: int,
                       seed: int = 7) -> None:
    """``count`` ChaosJobs numbered 0..count-1, each sleeping up to ``max_sleep_ms``."""
    rng = random.Random(seed)
    client = jobkit.Client(jobkit.Settings(redis_url=redis_url, namespace=namespace))
    client.enqueue_bulk(ChaosJob, [[i, rng.randint(0, max_sleep_ms)] for i in range(count)],
                        ChaosJob.options())
    client.redis.close()


def _count_runs(store: Store, result: Result, *,
                excused: frozenset[int] = frozenset()) -> dict[int, int]:
    runs = store.runs()
    missing = [i for i in range(result.jobs) if runs.get(i, 0) < 1 and i not in excused]
    result.lost = len(missing)
    result.duplicates = sum(n - 1 for n in runs.values() if n > 1)
    if result.lost:
        missing = missing[:20]
        result.problems.append(f"{result.lost} job(s) never ran, e.g. ids {missing}")
    return runs


def _stop_workers(pool: WorkerPool, store: Store, result: Result, started: float) -> None:
    """SIGTERM every worker (each must exit 0) and time the run up to here.

    A worker started moments ago may not have installed its signal handlers yet, and would
    die of the SIGTERM: first wait until each has registered as alive, which it does after."""
    for proc in pool.running:
        pid = proc.pid
        try:
            wait_for(lambda: store.is_up(pid), 30, f"worker {pid} to start")  # noqa: B023
        except AssertionError as e:
            result.problems.append(str(e))
    codes = pool.terminate_all()
    bad = {pid: code for pid, code in codes.items() if code != 0}
    if bad:
        result.problems.append(f"workers did not exit 0 on SIGTERM: {bad}")
    result.seconds = time.monotonic() - started


def _check_settled(store: Store, result: Result, *, dead: int = 0) -> None:
    if not store.settled() or store.zcard(store.keys.dead) != dead:
        result.problems.append(f"jobs left behind: {store.leftovers()}")


@contextlib.contextmanager
def _closing(result: Result, store: Store, pool: WorkerPool) -> Iterator[None]:
    """Close the store and the workers however the scenario ends; a failed result gets the
    tail of the workers' logs."""
    try:
        yield
    finally:
        pool.close()
        store.close()
    if result.problems:
        result.problems.append(pool.log_tail())


def kill_workers(redis_url: str, namespace: str, workdir: Path, *, jobs: int = 2000,
                 workers: int = 3, kill_interval: float = 0.3, concurrency: int = 5,
                 adaptive_prefetch: bool = False, max_sleep_ms: int = 60,
                 timeout: float = 60.0, seed: int = 1) -> Result:
    """SIGKILL a random worker and start a new one every ``kill_interval`` seconds until the
    queue drains; every job must run at least once, and a job may run again only once per
    kill of a worker that held it (fetched, not acknowledged) after its run was counted."""
    result = Result("kill-workers", jobs)
    rng = random.Random(seed)
    store = Store(redis_url, namespace)
    pool = WorkerPool(redis_url, namespace, workdir, concurrency=concurrency,
                      adaptive_prefetch=adaptive_prefetch)
    started = time.monotonic()
    held: dict[int, set[int]] = {}
    with _closing(result, store, pool):
        enqueue_chaos_jobs(redis_url, namespace, jobs, max_sleep_ms=max_sleep_ms)
        live = [pool.spawn() for _ in range(workers)]
        deadline = started + timeout
        while store.queued() > 0 and time.monotonic() < deadline:
            time.sleep(kill_interval)
            victim = live.pop(rng.randrange(len(live)))
            held[victim.pid] = pool.kill(victim, store.held_by)
            result.kills += 1
            live.append(pool.spawn())
        # Let recovery requeue what the last victims held, and the survivors run it.
        remaining = max(5.0, deadline - time.monotonic())
        try:
            wait_until_done(store, jobs, remaining, dead_counts=True)
        except AssertionError as e:
            result.problems.append(f"{e}: ran={store.ran()} {store.leftovers()}")
        _stop_workers(pool, store, result, started)
        # With random kills a job can be fetched by more than max_recoveries workers in a row
        # that all die before running it: recovery then gives it up as a poison pill, to the
        # dead set (retryable from there), as it must. Such a job is not lost, provided the
        # kills account for it: more victims held it than the limit allows.
        limit = jobkit.Settings().max_recoveries
        holders = Counter(i for ids in held.values() for i in ids)
        dead = store.dead_ids()
        unexplained = sorted(i for i in dead if holders[i] <= limit)
        if unexplained:
            result.problems.append(
                f"jobs in the dead set that at most {limit} killed workers held (recovery gives "
                f"up only after {limit + 1}): {unexplained[:20]}")
        runs = _count_runs(store, result, excused=frozenset(dead) - set(unexplained))
        result.poisoned = len(dead) - len(unexplained)
        # Recovery requeues every job a victim held; only those the victim had already run
        # (finished, not yet acknowledged) can run twice. Read after the run, so a count
        # the victim sent just before the kill has landed.
        rerunnable: Counter[int] = Counter()
        for (job_id, pid), n in store.ran_by().items():
            if job_id in held.get(pid, ()):
                rerunnable[job_id] += n
        bound = sum(rerunnable.values())
        most = max((len(ids) for ids in held.values()), default=0)
        held_total = sum(len(ids) for ids in held.values())
        prefetch = "adaptive" if adaptive_prefetch else str(concurrency)
        result.notes = (f"(bound: jobs the killed workers held that had already run = {bound},"
                        f" of {held_total} held, at most {most} by one; concurrency={concurrency} "
                        f"prefetch={prefetch} job sleep<={max_sleep_ms}ms)")
        extra = {i: n - 1 - rerunnable[i] for i, n in runs.items() if n - 1 > rerunnable[i]}
        if extra:
            sample = dict(sorted(extra.items())[:20])
            result.problems.append(
                f"{sum(extra.values())} run(s) beyond the bound {bound}: no killed worker held "
                f"these jobs after running them; extra runs by job id: {sample}")
        _check_settled(store, result, dead=len(dead))
    return result


def restart_redis(workdir: Path, *, jobs: int = 1500, workers: int = 2, down: float = 1.0,
                  kill_after: float = 0.3, concurrency: int = 5, timeout: float = 60.0
                  ) -> Result:
    """SIGKILL a private ``redis-server`` (AOF, fsync always) once ``kill_after`` of the jobs
    ran, restart it after ``down`` seconds; workers reconnect and finish, nothing lost."""
    result = Result("restart-redis", jobs)
    namespace = "chaos"
    server = PrivateRedis(workdir)
    pool = WorkerPool(server.url, namespace, workdir, concurrency=concurrency)
    started = time.monotonic()
    with server.running():
        store = Store(server.url, namespace)
        with _closing(result, store, pool):
            enqueue_chaos_jobs(server.url, namespace, jobs, max_sleep_ms=10)
            for _ in range(workers):
                pool.spawn()
            wait_for(lambda: store.ran() >= jobs * kill_after, timeout,
                     f"{kill_after:.0%} of the jobs to run")
            server.kill()
            result.kills = 1
            time.sleep(down)
            server.start()
            at_restart = store.ran()
            try:
                wait_until_done(store, jobs, timeout)
            except AssertionError as e:
                result.stranded = store.stranded()
                result.problems.append(f"{e}: ran={store.ran()} {store.leftovers()} "
                                       f"stranded-in-live-workers={result.stranded}")
            crashed = [p.pid for p in pool.procs if p.poll() is not None]
            if crashed:
                result.problems.append(f"workers exited during the outage: {crashed}")
            _stop_workers(pool, store, result, started)
            runs = _count_runs(store, result)
            retried = int(store.redis.get(store.keys.stat("failed")) or 0)
            # A job whose own count write died with the server may have been applied: its
            # retry is then a second run the job caused. Any other extra run is the runtime's.
            uncertain = uncertain_writes(str(workdir))
            own = sum(min(n - 1, uncertain.get(i, 0)) for i, n in runs.items() if n > 1)
            runtime = {i: n - 1 - uncertain.get(i, 0) for i, n in runs.items()
                       if n - 1 > uncertain.get(i, 0)}
            result.notes = (f"(redis down {down:.1f}s after {at_restart} jobs; "
                            f"{retried} attempt(s) failed and were retried; duplicates after "
                            f"the job's own write failed mid-command: {own} of "
                            f"{sum(uncertain.values())} such writes; by the runtime: "
                            f"{sum(runtime.values())}, must be 0)")
            if runtime:
                result.problems.append(
                    f"{sum(runtime.values())} duplicate run(s) the runtime caused (not after "
                    f"a failed write of the job's own), by job id: "
                    f"{dict(sorted(runtime.items())[:20])}")
            _check_settled(store, result)
    return result


# -- garbage payloads ----------------------------------------------------------------------

#: Payload kinds that once crashed worker threads (NaN/Infinity, RecursionError); they are
#: in the default mix and also have regression tests of their own.
PARSER_EDGE_KINDS = ("non-finite-number", "deep-nesting")


def _good_payload(rng: random.Random) -> dict[str, Any]:
    return {"class": "chaos.ChaosJob", "args": [-1, 0], "jid": f"{rng.getrandbits(96):024x}",
            "queue": QUEUE, "retry": False, "created_at": 1764400000.0,
            "enqueued_at": 1764400000.0}


_WRONG_TYPES: dict[str, list[Any]] = {
    "class": [5, None, "", [], {}, True],
    "args": ["x", 5, None, {}, True],
    "jid": [5, "", None, [], 1.5],
    "queue": [5, "", None, ["chaos"]],
    "retry": ["yes", -1, 1.5, [], {}],
    # -1 is valid: Sidekiq's "Retry now" writes it.
    "retry_count": ["1", 1.5, True, []],
    "created_at": ["yesterday", [], True, {}],
    "enqueued_at": ["now", [1], False],
    "failed_at": ["x", {}],
    "at": ["soon", True],
}


def garbage(kind: str, rng: random.Random, marker: Path) -> bytes:
    """One garbage payload of ``kind`` that no worker may run."""
    good = _good_payload(rng)
    if kind == "random-bytes":
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
    if kind == "truncated-json":
        text = json.dumps(good).encode()
        return text[: rng.randint(1, len(text) - 1)]
    if kind == "not-an-object":
        return json.dumps(rng.choice([[1, 2], 5, "job", None, True, 1.5])).encode()
    if kind == "wrong-type":
        name = rng.choice(sorted(_WRONG_TYPES))
        good[name] = rng.choice(_WRONG_TYPES[name])
        return json.dumps(good).encode()
    if kind == "missing-field":
        del good[rng.choice(["class", "args", "jid", "queue"])]
        return json.dumps(good).encode()
    if kind == "unknown-class":
        good["class"] = rng.choice(["NoSuchJob", "chaos.NoSuchJob", "Sidekiq::Batch::Callback"])
        return json.dumps(good).encode()
    if kind == "code-execution":
        # Each would create the marker file if a worker imported or called what it names.
        good["class"] = rng.choice(["os.system", "posix.system", "subprocess.call",
                                    "builtins.exec", "tests.chaos.trap.Boom",
                                    "tests.chaos.trap"])
        command = f"touch {marker}"
        good["args"] = ([f"import os; os.system({command!r})"] if good["class"] == "builtins.exec"
                        else [command] if "system" in good["class"] else [command.split()])
        return json.dumps(good).encode()
    if kind == "huge":
        big = "x" * 1_000_000
        if rng.random() < 0.5:
            good["class"] = "NoSuchHugeJob"
            good["args"] = [big]
            return json.dumps(good).encode()
        return json.dumps({**good, "args": [big]}).encode()[:-7]
    if kind == "non-finite-number":
        # Python's json accepts NaN/Infinity and 1e999, but cannot write them back.
        field_name, value = rng.choice([("args", "[NaN]"), ("args", "[Infinity]"),
                                        ("created_at", "1e999")])
        good["class"] = "NoSuchJob"
        text = json.dumps({**good, field_name: "@@"})
        return text.replace('"@@"', value).encode()
    if kind == "deep-nesting":
        return b"[" * 100_000
    raise ValueError(f"unknown garbage kind {kind!r}")


GARBAGE_KINDS = ("random-bytes", "truncated-json", "not-an-object", "wrong-type",
                 "missing-field", "unknown-class", "code-execution", "huge",
                 *PARSER_EDGE_KINDS)


def garbage_payloads(redis_url: str, namespace: str, workdir: Path, *, garbage_count: int = 500,
                     good: int = 300, kinds: tuple[str, ...] = GARBAGE_KINDS,
                     huge_count: int = 4, timeout: float = 40.0, seed: int = 3) -> Result:
    """LPUSH garbage straight into the queue between good jobs: every garbage payload must end
    in ``dead`` with a readable error, nothing it names may be imported or run, the worker
    must stay up and run every good job."""
    result = Result("garbage", good + garbage_count)
    rng = random.Random(seed)
    marker = workdir / "EXECUTED-MARKER"
    store = Store(redis_url, namespace)
    pool = WorkerPool(redis_url, namespace, workdir, concurrency=4,
                      extra_env={"JOBKIT_CHAOS_MARKER": str(marker)})
    started = time.monotonic()
    light = [k for k in kinds if k != "huge"]
    plan = [rng.choice(light) for _ in range(garbage_count)]
    if "huge" in kinds:
        for i in rng.sample(range(garbage_count), min(huge_count, garbage_count)):
            plan[i] = "huge"
    payloads = [garbage(kind, rng, marker) for kind in plan]
    with _closing(result, store, pool):
        goods = [[i, 0] for i in range(good)]
        client = jobkit.Client(jobkit.Settings(redis_url=redis_url, namespace=namespace))
        built = [client.build(ChaosJob, args, ChaosJob.options(), now=time.time())
                 for args in goods]
        client.redis.close()
        mixed = [json.dumps(p).encode() for p in built] + payloads
        rng.shuffle(mixed)
        pipe = store.redis.pipeline(transaction=True)
        pipe.sadd(store.keys.queues, QUEUE)
        for raw in mixed:
            pipe.lpush(store.keys.queue(QUEUE), raw)
        pipe.execute()
        worker = pool.spawn()
        try:
            wait_for(lambda: store.ran() >= good and store.zcard(store.keys.dead)
                     >= garbage_count and store.settled(), timeout,
                     "good jobs to run and garbage to reach the dead set")
        except AssertionError as e:
            result.problems.append(f"{e}: ran={store.ran()}/{good} {store.leftovers()}")
        if worker.poll() is not None:
            result.problems.append(f"the worker exited with {worker.returncode}")
        dead: list[bytes] = store.redis.zrange(store.keys.dead, 0, -1)  # type: ignore[assignment]
        result.problems += _check_dead(dead, payloads, plan)
        if marker.exists():
            result.problems.append(f"a payload's code ran: {marker.read_text()!r}")
        _stop_workers(pool, store, result, started)
        runs = store.runs()
        result.lost = sum(1 for i in range(good) if runs.get(i, 0) < 1)
        result.lost += max(0, garbage_count - len(dead))
        result.duplicates = sum(n - 1 for n in runs.values() if n > 1)
        if runs.get(-1):
            result.problems.append(f"{runs[-1]} garbage payload(s) ran as jobs")
        if result.lost:
            result.problems.append(f"{result.lost} job(s) lost")
        result.notes = f"(garbage={garbage_count} dead={len(dead)} kinds={','.join(kinds)})"
    return result


def _check_dead(dead: list[bytes], payloads: list[bytes], plan: list[str]) -> list[str]:
    """Each garbage payload is in ``dead`` once, as a valid entry with its error."""
    problems = []
    if len(dead) != len(payloads):
        problems.append(f"dead set holds {len(dead)} entries for {len(payloads)} garbage payloads")
    unreadable = []
    originals = []
    for raw in dead:
        try:
            entry = json.loads(raw)
        except ValueError as e:
            unreadable.append(f"unparseable dead entry {raw[:80]!r}: {e}")
            continue
        message = entry.get("error_message")
        if not isinstance(message, str) or not message or not isinstance(
                entry.get("error_class"), str):
            unreadable.append(f"dead entry without a readable error: {raw[:200]!r}")
        if not isinstance(entry.get("jid"), str) or not isinstance(entry.get("failed_at"), float):
            unreadable.append(f"dead entry without jid/failed_at: {raw[:200]!r}")
        originals.append(entry)
    problems += unreadable[:10]
    # Every payload's content must be recoverable from its dead entry (its bytes are kept).
    missing = [kind for raw, kind in zip(payloads, plan, strict=True)
               if not any(_keeps(entry, raw) for entry in originals)]
    if missing:
        problems.append(f"{len(missing)} garbage payload(s) not found in the dead set, "
                        f"kinds {sorted(set(missing))}")
    return problems


def _keeps(entry: dict[str, Any], raw: bytes) -> bool:
    """Whether a dead entry preserves garbage payload ``raw``."""
    try:
        # jobkit's strict parser: what it cannot parse, it keeps as text (or base64).
        original = jobkit.payload.json_loads(raw)
    except jobkit.PayloadError:
        original = None
    if isinstance(original, dict):
        jid = original.get("jid")
        if isinstance(jid, str) and jid:
            return bool(entry.get("jid") == jid)
        return bool(entry.get("args") == (original["args"] if isinstance(original.get("args"),
                                          list) else [original.get("args")])
                    and entry.get("class") in (original.get("class"), "jobkit.InvalidPayload"))
    args = entry.get("args")
    if not isinstance(args, list) or len(args) != 1:
        return False
    try:
        return bool(args[0] == raw.decode("utf-8"))
    except UnicodeDecodeError:
        return bool(args[0] == {"base64": base64.b64encode(raw).decode()})


def sigterm_long_job(redis_url: str, namespace: str, workdir: Path, *, seconds: float = 4.0,
                     short_jobs: int = 20, timeout: float = 30.0) -> Result:
    """SIGTERM a worker whose two threads run long jobs (and which prefetched two short ones):
    it exits 0 after its shutdown timeout, having pushed all four back to the front of the
    queue; the next worker runs the long jobs to completion and every short job."""
    result = Result("sigterm-long-job", 2 + short_jobs)
    store = Store(redis_url, namespace)
    pool = WorkerPool(redis_url, namespace, workdir, concurrency=2)
    started = time.monotonic()
    with _closing(result, store, pool):
        client = jobkit.Client(jobkit.Settings(redis_url=redis_url, namespace=namespace))
        for token in ("long-a", "long-b"):
            client.enqueue(LongJob, [token, seconds], LongJob.options())
        client.enqueue_bulk(ChaosJob, [[i, 0] for i in range(short_jobs)], ChaosJob.options())
        client.redis.close()

        def started_count() -> int:
            return len(store.redis.hkeys(store.chaos("started")))  # type: ignore[arg-type]

        first = pool.spawn("--timeout", "0.5")
        wait_for(lambda: started_count() == 2, 15, "both long jobs to start")
        wait_for(lambda: store.inprogress() == 4, 5, "two short jobs to be prefetched")
        first.send_signal(signal.SIGTERM)
        code = first.wait(15)
        if code != 0:
            result.problems.append(f"SIGTERMed worker exited {code}")
        result.kills = 1
        front: list[bytes] = store.redis.lrange(store.keys.queue(QUEUE), -4, -1)  # type: ignore[assignment]
        classes = [json.loads(raw)["class"] for raw in reversed(front)]
        if sorted(classes[:2]) != ["chaos.LongJob"] * 2 or classes[2:] != ["chaos.ChaosJob"] * 2:
            result.problems.append(f"queue front after SIGTERM (next first): {classes}")
        if store.inprogress():
            result.problems.append(f"{store.inprogress()} job(s) left in in-progress lists")
        if store.redis.hlen(store.chaos("done")):
            result.problems.append("a long job finished before the shutdown timeout?")
        pool.spawn()
        try:
            wait_for(lambda: store.ran() >= short_jobs and store.redis.hlen(store.chaos("done"))
                     == 2 and store.settled(), timeout, "the next worker to finish everything")
        except AssertionError as e:
            result.problems.append(f"{e}: {store.leftovers()}")
        _stop_workers(pool, store, result, started)
        done: dict[bytes, bytes] = store.redis.hgetall(store.chaos("done"))  # type: ignore[assignment]
        starts: dict[bytes, bytes] = store.redis.hgetall(store.chaos("started"))  # type: ignore[assignment]
        runs = store.runs()
        result.lost = sum(1 for i in range(short_jobs) if runs.get(i, 0) < 1)
        result.lost += sum(1 for t in (b"long-a", b"long-b") if int(done.get(t, 0)) < 1)
        result.duplicates = sum(n - 1 for n in runs.values() if n > 1)
        result.duplicates += sum(int(n) - 1 for n in done.values() if int(n) > 1)
        result.notes = f"(long job starts={sorted(int(n) for n in starts.values())})"
        if result.lost or result.duplicates:
            result.problems.append(f"lost={result.lost} duplicates={result.duplicates}")
    return result
