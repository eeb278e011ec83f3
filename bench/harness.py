"""What bench/throughput.py runs its peers on: a private Redis, worker processes started and
stopped as process groups, and the CPU and Redis commands they use."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

TICK = os.sysconf("SC_CLK_TCK")


class CountingRedis(redis.Redis):
    """A client that counts the commands it sends, so the runner can subtract its own."""

    sent = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent += 1
        return super().execute_command(*args, **options)


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A ``redis-server`` of our own on a free port (its URL, without a database): the
    command counts then see no other client, and nothing else is flushed."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server), or pass "
                         "--redis-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir, "--databases", "32"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    share_nice(proc.pid)
    url = f"redis://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def commands(r: redis.Redis) -> int:
    """Commands the server has executed so far (the sum of ``INFO commandstats`` calls)."""
    stats = r.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


def redis_cpu(r: redis.Redis) -> float:
    """CPU seconds the Redis server has used."""
    info = r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system, all threads) of ``pids`` and every descendant alive now."""
    tree = _children()
    todo, seen, total = list(pids), set(), 0.0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += tree.get(pid, [])
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines()
                if line.startswith("VmRSS:")) / 1024


@dataclass
class Workers:
    """Worker processes of one run, each in its own process group."""

    procs: list[subprocess.Popen[bytes]]
    log: str

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def dead(self) -> bool:
        return any(p.poll() is not None for p in self.procs)

    def tail(self) -> str:
        return Path(self.log).read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                # The worker and any children it forked: its own process group.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)


def start_workers(commands_: list[tuple[list[str], dict[str, str]]], *, cwd: Path,
                  env: dict[str, str], name: str) -> Workers:
    with tempfile.NamedTemporaryFile("w+b", prefix=f"bench-{name}-", suffix=".log",
                                     delete=False) as log:
        procs = [subprocess.Popen(argv, cwd=cwd, env={**env, **extra}, stdout=log, stderr=log,
                                  start_new_session=True) for argv, extra in commands_]
    for proc in procs:
        share_nice(proc.pid)
    return Workers(procs, log.name)


def share_nice(pid: int) -> None:
    """Give the new session of ``pid`` the runner's nice value. With autogroup scheduling
    (the Linux default) the CPU is shared between sessions first, and a process's own nice
    only ranks it within its session: ``nice -n -10 throughput.py`` would otherwise leave
    Redis, the workers and the bare loops at the share of any other session."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/autogroup", "w") as f:
        f.write(str(os.nice(0)))
