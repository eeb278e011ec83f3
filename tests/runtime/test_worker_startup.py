"""A worker started while Redis is unreachable keeps retrying, and one signal stops it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

JOBKIT = Path(sys.executable).with_name("jobkit")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_one_signal_stops_a_worker_waiting_for_redis_at_start_up(
    tmp_path: Path, signum: signal.Signals
) -> None:
    log = tmp_path / "worker.log"
    env = {**os.environ, "JOBKIT_REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0"}
    with log.open("w") as out:
        proc = subprocess.Popen([str(JOBKIT), "worker", "-c", "1"], stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while "redis unavailable during start" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        # Let the backoff grow past a second, so a stop that waits it out would show.
        time.sleep(2.0)
        proc.send_signal(signum)
        # Before the fix the first signal was never acted on: wait() timed out here.
        code = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert code == 0, text
    assert "stopped before it started" in text
    assert "second signal" not in text
