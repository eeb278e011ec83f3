"""Settings validation and the worker command's argument errors: every bad value named."""

from __future__ import annotations

import pytest

import jobkit
from jobkit.cli import main
from jobkit.placement import usable_cpus
from jobkit.settings import Settings
from jobkit.supervisor import cpu_plan, strip_processes


@pytest.mark.parametrize(("changes", "message"), [
    ({"namespace": "a b"}, "namespace='a b'"),
    ({"heartbeat_interval": 0}, "heartbeat_interval=0 must be a positive"),
    ({"recovery_timeout": -1}, "recovery_timeout=-1"),
    ({"recovery_timeout": 2, "heartbeat_interval": 5}, "must be longer than"),
    ({"dead_max_jobs": -5}, "dead_max_jobs=-5"),
    ({"death_handlers": ["not callable"]}, "death_handlers item 'not callable'"),
    ({"poll_interval": float("inf")}, "poll_interval=inf"),
    ({"clock": 5}, "clock=5 is not callable"),
    ({"jitter_random": 7}, "jitter_random=7 is not callable"),
])
def test_bad_setting_is_rejected_naming_the_value(changes: dict[str, object],
                                                   message: str) -> None:
    with pytest.raises(jobkit.ConfigError, match=message):
        Settings(redis_url="memory://x").replace(**changes)


def test_unknown_setting_is_rejected_with_the_known_ones() -> None:
    with pytest.raises(jobkit.ConfigError, match="unknown setting 'redis_uri'; known"):
        Settings.from_kwargs(redis_uri="redis://x")


def test_settings_come_from_the_environment() -> None:
    s = Settings.from_env({"REDIS_URL": "redis://r:1/2", "JOBKIT_NAMESPACE": "shop",
                           "JOBKIT_RECOVERY_TIMEOUT": "12.5", "JOBKIT_DEAD_MAX_JOBS": "10"})
    assert (s.redis_url, s.namespace, s.recovery_timeout, s.dead_max_jobs) == (
        "redis://r:1/2", "shop", 12.5, 10)
    assert Settings.from_env({"JOBKIT_REDIS_URL": "redis://a/0", "REDIS_URL": "redis://b/0"}
                             ).redis_url == "redis://a/0"


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(jobkit.ConfigError, match="JOBKIT_DEAD_MAX_JOBS='many' must be an integer"):
        Settings.from_env({"JOBKIT_DEAD_MAX_JOBS": "many"})


def test_settings_are_frozen() -> None:
    s = Settings(redis_url="memory://x")
    with pytest.raises(AttributeError):
        s.namespace = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("argv", "message"), [
    (["worker", "-q", "critical,zero"], "weight 'zero' must be a whole number"),
    (["worker", "-q", "a", "-q", "a"], "queue 'a' is listed twice"),
    (["worker", "-c", "0"], "concurrency=0 must be an integer from 1 to 1000"),
    (["worker", "-r", "no_such_module_xyz"], "cannot import 'no_such_module_xyz'"),
    (["worker", "-r", "missing_file.py"], "no such file"),
    (["worker", "--processes", "0"], "--processes=0 must be at least 1"),
    (["worker", "--processes", "2", "--cpu", "0"], "--cpu=0 pins one process; with --processes"),
    (["worker", "--cpu", "99999"], "--cpu=99999: this "),
    (["worker", "--cpu", "0", "--no-pin"], "--cpu=0 pins the worker and --no-pin says not"),
    (["worker", "--redis-url", "localhost"], "must be a URL"),
])
def test_worker_command_rejects_bad_options_naming_them(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    placed = usable_cpus()
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert usable_cpus() == placed, "a refused worker command leaves the caller's CPUs alone"


def test_supervisor_passes_on_every_option_but_its_own() -> None:
    argv = ["--log-level", "INFO", "worker", "--processes", "2", "-c", "5", "--no-pin",
            "--processes=3", "-q", "a"]
    assert strip_processes(argv) == ["--log-level", "INFO", "worker", "-c", "5", "-q", "a"]


def test_cpu_plan_gives_each_process_its_own_cpu_while_there_are_enough() -> None:
    cpus = usable_cpus()
    if not cpus:
        assert cpu_plan(2, pin=True) == [None, None]
        return
    assert cpu_plan(len(cpus), pin=True) == cpus
    assert cpu_plan(len(cpus) + 1, pin=True) == [None] * (len(cpus) + 1)
    assert cpu_plan(1, pin=False) == [None]
