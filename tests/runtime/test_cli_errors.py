"""The installed ``jobkit`` command as a user meets it: one-line errors with documented exit
statuses, help with examples, --version, completion scripts, and honest ``enqueue``."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

import jobkit
from jobkit._version import __version__
from jobkit.keys import Keys
from tests.needs import REAL_REDIS_URL, missing, same_server

JOBKIT = Path(sys.executable).with_name("jobkit")


def jobkit_cli(*args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed console script (not ``python -m``), as a user does."""
    if not JOBKIT.exists():
        missing(f"the jobkit console script is not installed next to {sys.executable}")
    return subprocess.run([str(JOBKIT), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("jobkit: error: "), lines
    return lines[0]


def test_unreachable_redis_is_one_line_naming_the_url_and_exit_3() -> None:
    url = f"redis://:sekret@127.0.0.1:{_closed_port()}/0"
    done = jobkit_cli("stats", "--redis-url", url)
    assert done.returncode == 3
    line = _one_error_line(done)
    assert "cannot reach Redis at redis://:***@127.0.0.1:" in line
    assert "sekret" not in done.stderr and done.stdout == ""


def test_database_index_out_of_range_is_a_redis_refusal(real_settings: jobkit.Settings) -> None:
    done = jobkit_cli("queues", "--redis-url", same_server(REAL_REDIS_URL, 99))
    assert done.returncode == 3
    url = same_server(REAL_REDIS_URL, 99)
    assert _one_error_line(done).startswith(f"jobkit: error: Redis at {url} refused the command: ")


def test_output_closed_early_is_silent_exit_141(real_settings: jobkit.Settings) -> None:
    r = redis.Redis.from_url(real_settings.redis_url)
    keys = Keys(real_settings.namespace)
    # Enough JSON to overflow a pipe buffer, so the write really fails.
    r.zadd(keys.dead, {json.dumps({"class": "X", "args": ["x" * 200], "jid": f"{i:024x}",
                                   "queue": "default"}): i for i in range(2000)})
    r.close()
    with subprocess.Popen([str(JOBKIT), "dead", "--limit", "2000", "--json",
                           "--redis-url", real_settings.redis_url,
                           "--namespace", real_settings.namespace],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().strip() == b"["
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait(60) == 141
    assert stderr == b""


def test_clear_of_a_queue_that_does_not_exist_says_so(real_settings: jobkit.Settings) -> None:
    ns = ("--redis-url", real_settings.redis_url, "--namespace", real_settings.namespace)
    jobkit_cli("enqueue", "SomeRubyJob", "[1]", "--queue", "present", *ns)
    done = jobkit_cli("clear", "nosuchqueue", "--yes", *ns)
    assert done.returncode == 1
    assert _one_error_line(done).endswith(
        "queue 'nosuchqueue' does not exist (queues: present)")
    done = jobkit_cli("clear", "present", "--yes", *ns)
    assert (done.returncode, done.stdout) == (0, "deleted 1 job(s) from queue 'present'\n")


def test_enqueue_of_an_unloaded_name_says_nothing_was_checked_and_strict_refuses(
    real_settings: jobkit.Settings,
) -> None:
    ns = ("--redis-url", real_settings.redis_url, "--namespace", real_settings.namespace)
    done = jobkit_cli("enqueue", "shop.jobs.Missing", "[7]", *ns)
    assert done.returncode == 0 and done.stdout.startswith("enqueued shop.jobs.Missing ")
    assert "options and argument checks were not applied" in done.stderr
    assert "-r MODULE" in done.stderr
    done = jobkit_cli("enqueue", "shop.jobs.Missing", "[8]", "--strict", *ns)
    assert done.returncode == 1
    assert "NAME='shop.jobs.Missing' is not a registered job" in _one_error_line(done)
    with redis.Redis.from_url(real_settings.redis_url) as r:
        queued = [json.loads(raw)["args"] for raw in
                  r.lrange(Keys(real_settings.namespace).queue("default"), 0, -1)]
    assert queued == [[7]]


def test_bad_option_values_are_usage_errors_with_status_2() -> None:
    done = jobkit_cli("retries", "--limit", "0", "--redis-url", "memory://cli-errors")
    assert done.returncode == 2
    assert _one_error_line(done) == "jobkit: error: --limit=0 must be at least 1"


def test_version_flag_prints_the_version() -> None:
    done = jobkit_cli("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"jobkit {__version__}")


def test_help_is_plain_text_with_examples_for_every_command() -> None:
    top = jobkit_cli("--help")
    assert top.returncode == 0
    assert "``" not in top.stdout and "ops" not in re.findall(r"\b\w+\b", top.stdout)
    assert "examples:" in top.stdout and "exit status:" in top.stdout
    commands = re.search(r"\{([a-z,]+)\}", top.stdout)
    names = commands.group(1).split(",") if commands else re.findall(
        r"^    ([a-z]+)\s", top.stdout, re.M)
    assert {"worker", "demo", "stats", "retry", "clear", "enqueue", "completion"} <= set(names)
    for name in names:
        page = jobkit_cli(name, "--help").stdout
        assert "examples:" in page, f"jobkit {name} --help has no examples"
    enqueue = jobkit_cli("enqueue", "--help").stdout
    assert "--in SECONDS" in enqueue and "IN_" not in enqueue
    retry = jobkit_cli("retry", "--help").stdout
    assert re.search(r"jid\s+the job's id", retry)
    clear = jobkit_cli("clear", "--help").stdout
    assert re.search(r"QUEUE\s+the queue to empty", clear)
    assert re.search(r"--set \{schedule,retry,dead\}\s+empty this sorted set", clear)


@pytest.mark.parametrize("shell", ["bash", "zsh", "tcsh"])
def test_completion_script_knows_the_commands(shell: str) -> None:
    done = jobkit_cli("completion", shell)
    assert done.returncode == 0, done.stderr
    # shtab's tcsh script completes command names only.
    for word in ("worker", "enqueue", *(["--redis-url"] if shell != "tcsh" else [])):
        assert word in done.stdout
    if shell == "bash":
        checked = subprocess.run(["bash", "-n"], input=done.stdout, text=True,
                                 capture_output=True)
        assert checked.returncode == 0, checked.stderr
