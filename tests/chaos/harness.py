"""Process plumbing for the chaos scenarios: worker subprocesses and a private Redis server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
JOB_MODULE = "tests.chaos.chaos_jobs"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``predicate`` until true; seconds waited, or AssertionError naming ``what``."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class WorkerPool:
    """``python -m jobkit worker`` subprocesses with short recovery timings, logging to files."""

    redis_url: str
    namespace: str
    workdir: Path
    concurrency: int = 5
    recovery_timeout: float = 1.5
    heartbeat_interval: float = 0.3
    poll_interval: float = 0.5
    queues: Sequence[str] = ("chaos",)
    #: False pins ``--prefetch`` to ``concurrency`` (one job ahead per thread, so a scenario
    #: knows what a worker holds); True leaves the default adaptive prefetch users run.
    adaptive_prefetch: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def spawn(self, *extra: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "JOBKIT_REDIS_URL": self.redis_url,
               "JOBKIT_CHAOS_DIR": str(self.workdir),
               "JOBKIT_NAMESPACE": self.namespace,
               "JOBKIT_RECOVERY_TIMEOUT": str(self.recovery_timeout),
               "JOBKIT_HEARTBEAT_INTERVAL": str(self.heartbeat_interval),
               "JOBKIT_POLL_INTERVAL": str(self.poll_interval), **self.extra_env}
        log = self.workdir / f"worker-{len(self.logs)}.log"
        self.logs.append(log)
        queue_args = [arg for q in self.queues for arg in ("-q", q)]
        prefetch = [] if self.adaptive_prefetch else ["--prefetch", str(self.concurrency)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jobkit", "--log-level", "WARNING", "worker",
                 "-r", JOB_MODULE, "-c", str(self.concurrency),
                 *prefetch, *queue_args, *extra],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    @property
    def running(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def kill(self, proc: subprocess.Popen[bytes],
             held: Callable[[int], set[int]] | None = None) -> set[int]:
        """SIGKILL ``proc``; with ``held``, what it held: ``held(pid)`` read while the process
        is stopped (nothing it does can change its lists then) and again once it is dead
        (a command it sent before stopping may land after the first read)."""
        if held is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            return set()
        proc.send_signal(signal.SIGSTOP)
        _wait_stopped(proc.pid)
        before = held(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # Commands already in its socket are run by Redis in any order with ours: let them
        # land (recovery waits a whole recovery_timeout before touching its lists).
        time.sleep(0.05)
        return before | held(proc.pid)

    def terminate_all(self, timeout: float = 30.0) -> dict[int, int | None]:
        """SIGTERM every running worker; their exit codes by pid (None: still running)."""
        running = self.running
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        codes: dict[int, int | None] = {}
        deadline = time.monotonic() + timeout
        for proc in running:
            try:
                codes[proc.pid] = proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[proc.pid] = None
        return codes

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)

    def log_tail(self, lines: int = 15, limit: int = 6) -> str:
        """The last lines of the logs that have any, for failure messages."""
        parts = []
        for log in self.logs:
            text = log.read_text(errors="replace").strip() if log.exists() else ""
            if text:
                tail = "\n".join(text.splitlines()[-lines:])
                parts.append(f"--- {log.name}\n{tail}")
        return "\n".join(parts[-limit:])


def _wait_stopped(pid: int) -> None:
    """Until the kernel reports ``pid`` stopped (a signal is delivered asynchronously)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        time.sleep(0.05)  # no procfs: give the signal a moment
        return
    # The state is the first field after the parenthesised command name.
    wait_for(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] in ("T", "t", "Z", "X"), 5,
             f"process {pid} to stop")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivateRedis:
    """A ``redis-server`` of the test's own, with every acknowledged write fsynced to an AOF
    in ``directory`` so it can be SIGKILLed and restarted without losing acknowledged data."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not on PATH")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = directory / "redis-server.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--dir", str(self.directory), "--appendonly", "yes",
                 "--appendfsync", "always", "--save", "", "--daemonize", "no"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited: {self.log.read_text()[-2000:]}")
            try:
                # LOADING replies are errors too, so this waits for the AOF to be loaded.
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            wait_for(up, 15, f"redis-server on port {self.port}")
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown save; only the fsynced AOF survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    @contextmanager
    def running(self) -> Iterator[PrivateRedis]:
        self.start()
        try:
            yield self
        finally:
            self.kill()
