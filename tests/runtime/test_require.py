"""``-r PATH``: a file inside a package is imported under its package-qualified name, and the
worker says which jobs each ``-r`` registered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

import jobkit
from jobkit.keys import Keys
from jobkit.require import module_for_path

JOBKIT = Path(sys.executable).with_name("jobkit")

SHOP_JOBS = '''
from pathlib import Path

import jobkit


class ShipOrderJob(jobkit.Job):
    def perform(self, order_id: int, marker: str) -> None:
        Path(marker).write_text(f"shipped {order_id} as {__name__}")
'''


def _tree(root: Path) -> Path:
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "jobs.py").write_text(SHOP_JOBS)
    (root / "helpers.py").write_text("VALUE = 1\n")
    return root / "shop" / "jobs.py"


def test_a_file_in_a_package_gets_its_package_qualified_name(tmp_path: Path) -> None:
    path = _tree(tmp_path)
    assert module_for_path(str(path)) == ("shop.jobs", str(tmp_path))
    assert module_for_path(str(tmp_path / "helpers.py")) == ("helpers", str(tmp_path))
    assert module_for_path(str(tmp_path / "shop")) == ("shop", str(tmp_path))


def test_worker_runs_jobs_of_a_file_required_by_path_and_logs_what_registered(
    real_settings: jobkit.Settings, tmp_path: Path
) -> None:
    (tmp_path / "app").mkdir()
    path = _tree(tmp_path / "app")
    marker = tmp_path / "marker.txt"
    keys = Keys(real_settings.namespace)
    with redis.Redis.from_url(real_settings.redis_url) as r:
        r.lpush(keys.queue("default"), json.dumps({
            "class": "shop.jobs.ShipOrderJob", "args": [7, str(marker)], "jid": "a" * 24,
            "queue": "default", "retry": False, "created_at": time.time(),
            "enqueued_at": time.time()}))
        r.sadd(keys.queues, "default")
    log = tmp_path / "worker.log"
    env = {**os.environ, "JOBKIT_REDIS_URL": real_settings.redis_url,
           "JOBKIT_NAMESPACE": real_settings.namespace}
    with log.open("w") as out:
        # Run from elsewhere, as a deploy script would: only the path says where the code is.
        proc = subprocess.Popen(
            [str(JOBKIT), "worker", "-c", "1", "-r", str(path),
             "-r", str(tmp_path / "app" / "helpers.py")],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert marker.read_text() == "shipped 7 as shop.jobs"
    text = log.read_text()
    assert f"-r {path} registered 1 job(s): shop.jobs.ShipOrderJob" in text
    assert "helpers.py registered no jobs" in text
    with redis.Redis.from_url(real_settings.redis_url) as r:
        assert r.zcard(keys.dead) == 0
