"""The package's promises about itself: light imports, typed public API, the demo."""

from __future__ import annotations

import importlib.util
import io
import itertools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import uuid
from pathlib import Path

import pytest
import redis

import jobkit
import jobkit_lint
from jobkit import demo, demo_story
from jobkit import demo_jobs as dj
from jobkit.cli import main
from jobkit.demo_story import hms
from jobkit.errors import ConfigError
from tests.needs import REAL_REDIS_URL, require_real_redis

ROOT = Path(__file__).resolve().parents[2]


def test_import_jobkit_loads_no_test_lint_cli_or_web_libraries() -> None:
    code = ("import sys, jobkit; heavy = [m for m in ('pytest', 'libcst', 'hypothesis', "
            "'fakeredis', 'argparse', 'jobkit.cli', 'jobkit.worker_cli', 'starlette', 'jinja2', "
            "'uvicorn', 'a2wsgi', 'jobkit.web') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_type_checks_under_mypy_strict() -> None:
    from mypy import api

    stdout, stderr, status = api.run(["--strict", "--no-incremental",
                                      str(ROOT / "tests" / "typing" / "public_api.py"),
                                      str(ROOT / "tests" / "typing" / "web_api.py"),
                                      str(ROOT / "tests" / "typing" / "plugin_api.py"),
                                      str(ROOT / "tests" / "lint" / "typing_public_api.py")])
    assert status == 0, stdout + stderr


def test_every_public_name_is_documented() -> None:
    missing = [name for name in jobkit.__all__ if not name.startswith("__")
               and not (getattr(jobkit, name).__doc__ or "").strip()]
    assert missing == []


def _progress(text: str) -> list[str]:
    return [line for line in text.splitlines() if "settled" in line and "attempts" in line]


def test_demo_tells_the_story_on_the_embedded_redis() -> None:
    out = io.StringIO()
    summary = demo.run(redis_url=None, orders=20, ticks=2, out=out)
    text = out.getvalue()
    assert summary["complete"] and summary["where"] == "the embedded fakeredis"

    # The inventory sync fails twice, then succeeds; each retry runs once it is due.
    sync = summary["sync"]["attempts"]
    assert [a["number"] for a in sync] == [1, 2, 3]
    assert [bool(a["error"]) for a in sync] == [True, True, False]
    assert sync[0]["error"].startswith("GatewayTimeout: warehouse API timed out")
    for before, after in itertools.pairwise(sync):
        assert before["started"] <= after["last_failure"] <= before["finished"] + 0.5
        assert after["retry_due"] == pytest.approx(after["last_failure"] + dj.RETRY_IN)
        assert after["started"] >= after["retry_due"]
        assert (f"retry {before['number']} scheduled for {hms(after['retry_due'])}, "
                f"ran {hms(after['started'])}") in text
    assert f"retry_in = {dj.RETRY_IN} s" in text

    # The import fails three times and dies; the death handler gets its payload and error.
    legacy = summary["import"]
    assert [bool(a["error"]) for a in legacy["attempts"]] == [True, True, True]
    handler = legacy["death_handler"]
    assert handler is not None, "the death handler did not fire"
    assert handler["job"]["jid"] == legacy["jid"]
    assert handler["job"]["class"] == "demo.ImportLegacyOrderJob"
    assert (handler["job"]["retry_count"], handler["job"]["error_class"]) == (2, "ValueError")
    assert handler["exc"] == "ValueError('legacy order LEGACY-77 has no customer')"
    assert "no retries left: moved to the dead set" in text
    assert "the death handler was called as handler(job, exc)" in text
    assert f"jid {legacy['jid']!r}" in text and handler["exc"] in text

    # The report runs once its time came, not before.
    report = summary["report"]
    assert report["scheduled_for"] <= report["enqueued_at"] <= report["ran_at"]
    assert (f"scheduled for {hms(report['scheduled_for'])}, moved to its queue "
            f"{hms(report['enqueued_at'])}, ran {hms(report['ran_at'])}") in text

    # The periodic job ticks every second, each run after its tick.
    ticks = summary["ticks"]
    assert len(ticks) >= 2
    assert [b["tick"] - a["tick"] for a, b in itertools.pairwise(ticks)] == [1.0] * (len(ticks) - 1)
    for t in ticks:
        assert t["tick"] == int(t["tick"]) and t["tick"] <= t["enqueued_at"] <= t["ran_at"]
        assert f"tick {hms(t['tick'])}: enqueued {hms(t['enqueued_at'])}" in text

    # The outbox: the committed order's job is relayed after its commit and runs; the
    # rolled-back one's row went with its transaction and never runs.
    outbox = summary["outbox"]
    committed, rolled_back = outbox["committed"], outbox["rolled_back"]
    assert committed["order_id"] == 21 and rolled_back["order_id"] == 22
    assert committed["at"] <= committed["relayed_at"] <= committed["ran_at"]
    assert rolled_back["ran"] is False
    assert (outbox["orders_in_database"], outbox["relayed"], outbox["rows_left"]) == (1, 1, 0)
    assert f"order 21 committed {hms(committed['at'])}  jid {committed['jid']}" in text
    assert (f"relayed to Redis {hms(committed['relayed_at'])}" in text
            and f"ran {hms(committed['ran_at'])}" in text)
    assert f"order 22 rolled back {hms(rolled_back['at'])}  jid {rolled_back['jid']}" in text
    assert "never relayed, never ran" in text
    assert "set(outbox=session)" in text

    # The counts add up: jobs vs attempts, and jobkit's own counters in Redis agree.
    jobs = 20 * 2 + 4 + len(ticks)
    assert (summary["jobs"], summary["attempts"], summary["enqueued"]) == (jobs, jobs + 4, jobs)
    assert summary["succeeded_first_time"] == jobs - 2
    assert (summary["succeeded_after_retries"], summary["died"], summary["unfinished"]) == (1, 1, 0)
    assert summary["stats"] == {"processed": jobs + 4, "failed": 5, "dead": 1}
    assert summary["counts_agree"] and summary["left_on_queues"] == 0
    assert (f"{jobs} jobs, {jobs + 4} attempts: {jobs - 2} succeeded first time, 1 succeeded "
            "on attempt 3, 1 died after 3 attempts") in text
    assert summary["queues"]["critical"]["jobs"] == 21  # the orders and the outbox's
    assert summary["queues"]["mailers"]["jobs"] == 20

    # Not a terminal: a few plain progress lines, no control characters.
    lines = _progress(text)
    assert 1 <= len(lines) <= 2 + summary["seconds"] / demo.PLAIN_EVERY
    assert f"settled {jobs - len(ticks)}/{jobs - len(ticks)}" in lines[-1]
    assert not [c for c in text if c < " " and c != "\n"]

    # What to try next, with a jid from this run.
    steps = text[text.index("What to try next"):]
    assert f"jobkit status {legacy['jid']}" in steps
    for command in ("jobkit stats", "jobkit dead", "jobkit cron", "--keep", "README: "):
        assert command in steps
    assert ("jobkit web " in steps) == (importlib.util.find_spec("jobkit.web_cli") is not None)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_demo_progress_is_one_line_updated_in_place_on_a_terminal() -> None:
    out = _Terminal()
    demo.run(redis_url=None, orders=5, ticks=1, out=out)
    text = out.getvalue()
    progress = text[text.index("before the first.\n\n") + len("before the first.\n\n"):
                    text.index("done in")]
    # Every update returns to the start of the same line; one newline pair ends it.
    assert progress.startswith("\r") and progress.endswith("\n\n")
    assert "\n" not in progress[:-2] and progress.count("\r") >= 2
    assert "settled 14/14" in progress.rsplit("\r", 1)[1]  # 5 orders, 5 receipts, 3, outbox


def test_the_counts_check_and_the_death_handler_line_can_fail() -> None:
    recorder = demo_story.Recorder(time.time)
    jids = {"sync": "s", "import": "i", "report": "r"}
    story = demo_story.tell(recorder, jids=jids, report_at=0.0, enqueued=3, left=0,
                            stats={"processed": 1, "failed": 0, "dead": 1})
    assert not story["counts_agree"] and story["import"]["death_handler"] is None
    text = "\n".join(demo_story.render({**story, "seconds": 0.0}))
    assert "the death handler was NOT called" in text and "DO NOT AGREE" in text


def test_demo_refuses_keep_without_a_real_redis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--keep"]) == 2
    assert "keep=True needs a redis_url (--redis-url)" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="orders=0 must be"):
        demo.run(redis_url=None, orders=0)


def _namespace(text: str) -> str:
    """The run's namespace, from the demo's first line (on a real Redis)."""
    found = re.search(r"keys under (jobkit-demo:[0-9a-f]{12}):", text)
    assert found, text[:300]
    return found.group(1)


def test_demo_on_a_real_redis_leaves_no_key_behind(capsys: pytest.CaptureFixture[str]) -> None:
    require_real_redis()
    r = redis.Redis.from_url(REAL_REDIS_URL)
    # Another demo's key on the same server: this run must not touch it. (Other demos may
    # run at the same time, from other test processes: only this run's keys are checked.)
    neighbour = f"jobkit-demo:{uuid.uuid4().hex[:12]}:queue:default"
    r.lpush(neighbour, "{}")
    try:
        assert main(["demo", "--redis-url", REAL_REDIS_URL, "--orders", "5"]) == 0
        out = capsys.readouterr().out
        assert "1 succeeded on attempt 3, 1 died after 3 attempts" in out
        assert "jobkit's own counters agree" in out and "the demo deleted its keys" in out
        namespace = _namespace(out)
        assert f"keys under {namespace}: (deleted at the end)" in out
        assert list(r.scan_iter(match=f"{namespace}:*", count=1000)) == []
        assert r.lrange(neighbour, 0, -1) == [b"{}"]
    finally:
        r.delete(neighbour)
        r.close()


class _ClosedAfter(io.StringIO):
    """An output whose reader goes away after a few writes (``jobkit demo | head``)."""

    def __init__(self, writes: int) -> None:
        super().__init__()
        self.left = writes

    def write(self, text: str) -> int:
        self.left -= 1
        if self.left < 0:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_demo_stopped_midway_stops_its_worker_and_leaves_no_key_behind() -> None:
    require_real_redis()
    r = redis.Redis.from_url(REAL_REDIS_URL)
    out = _ClosedAfter(2)
    try:
        with pytest.raises(BrokenPipeError):
            demo.run(redis_url=REAL_REDIS_URL, orders=50, out=out)
        time.sleep(0.6)  # past a heartbeat interval: a worker left running would write again
        namespace = _namespace(out.getvalue())
        assert list(r.scan_iter(match=f"{namespace}:*", count=1000)) == []
    finally:
        r.close()


def test_demo_keep_leaves_its_keys_for_the_commands_it_prints(
        capsys: pytest.CaptureFixture[str]) -> None:
    require_real_redis()
    out = io.StringIO()
    summary = demo.run(redis_url=REAL_REDIS_URL, orders=3, ticks=1, keep=True, out=out)
    r = redis.Redis.from_url(REAL_REDIS_URL)
    try:
        text = out.getvalue()
        export = next(line for line in text.splitlines() if line.startswith("  export "))
        env = dict(pair.split("=", 1) for pair in export.split()[1:])
        assert env == {"JOBKIT_REDIS_URL": REAL_REDIS_URL,
                       "JOBKIT_NAMESPACE": summary["namespace"]}
        jid = summary["import"]["jid"]
        assert f"  jobkit status {jid}\n" in text
        status = subprocess.run([_console_script("jobkit"), "status", jid], capture_output=True,
                                text=True, timeout=60, env={**os.environ, **env})
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith(f"demo.ImportLegacyOrderJob {jid}: dead since ")
        target = ["--redis-url", REAL_REDIS_URL, "--namespace", summary["namespace"]]
        capsys.readouterr()
        assert main(["dead", *target]) == 0 and jid in capsys.readouterr().out
        assert main(["cron", *target]) == 0
        assert "demo.refresh-rates  every 1s" in capsys.readouterr().out
    finally:
        for key in r.scan_iter(match=f"{summary['namespace']}:*", count=1000):
            r.delete(key)
        r.close()


def _console_script(name: str) -> str:
    """The installed entry point ``name`` of the environment running the tests (the venv's
    ``bin`` next to ``sys.executable``, or the install scheme's scripts directory)."""
    for directory in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        found = shutil.which(name, path=str(directory))
        if found:
            return found
    raise AssertionError(f"{name!r} is not installed next to {sys.executable}; the package's "
                         "[project.scripts] entry is missing (pip install -e '.[test]')")


def test_demo_command_runs_from_the_jobkit_console_script(tmp_path: Path) -> None:
    script = _console_script("jobkit")
    # Run from elsewhere: the script must import the installed package, not ./jobkit.
    out = subprocess.run([script, "demo", "--orders", "10"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "1 succeeded on attempt 3, 1 died after 3 attempts" in out.stdout
    assert "jobkit's own counters agree" in out.stdout and "\r" not in out.stdout
    usage = subprocess.run([script, "no-such-command"], capture_output=True, text=True,
                           cwd=tmp_path, timeout=60)
    assert usage.returncode == 2 and "no-such-command" in usage.stderr


def test_jobkit_lint_console_script_lints_and_exits_by_findings(tmp_path: Path) -> None:
    script = _console_script("jobkit-lint")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "tasks.py").write_text(
        "from celery import shared_task\n\n\n@shared_task\ndef ship(when):\n    return when\n"
        "\n\ndef later():\n    ship.delay({1, 2})\n")
    flagged = subprocess.run([script, "--no-cache", "."], capture_output=True, text=True,
                             cwd=tmp_path, timeout=120)
    assert flagged.returncode == 1, flagged.stderr
    assert flagged.stdout.startswith("tasks.py:10:16: JK102 "), flagged.stdout
    (tmp_path / "tasks.py").write_text("def later():\n    return 1\n")
    clean = subprocess.run([script, "--no-cache", "."], capture_output=True, text=True,
                           cwd=tmp_path, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    version = subprocess.run([script, "--version"], capture_output=True, text=True,
                             cwd=tmp_path, timeout=60)
    assert version.stdout.strip() == f"jobkit-lint {jobkit_lint.__version__}"


def test_demo_without_sqlalchemy_skips_the_outbox_step_and_says_how_to_see_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLAlchemy is an optional extra: the Quick-start install (`pip install -e .`) lacks it.
    monkeypatch.setattr(demo, "outbox_available", lambda: False)
    out = io.StringIO()
    summary = demo.run(redis_url=None, orders=3, ticks=1, out=out)
    assert summary["complete"] and summary["outbox"] is None
    assert summary["jobs"] == 3 * 2 + 3 + len(summary["ticks"]) and summary["counts_agree"]
    assert "pip install 'jobkit[sqlalchemy]' to see it" in out.getvalue()
    assert "outbox: orders written" not in out.getvalue()
