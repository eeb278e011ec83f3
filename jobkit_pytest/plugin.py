"""The pytest plugin: command-line options, ini keys, the ``jobkit`` marker, the fixtures.

Registered through the ``pytest11`` entry point. Importing it imports no Redis client, no
worker and no Hypothesis; activation is explicit, through the ``jobkit`` fixture or marker.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from .fixtures import _jobkit_marker, jobkit

__all__ = ["_jobkit_marker", "jobkit"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jobkit", "jobkit background jobs")
    group.addoption(
        "--jobkit-redis-url",
        dest="jobkit_redis_url",
        default=None,
        help="run the jobkit fixture on this real Redis (each test in its own namespace) "
        "instead of an embedded fakeredis server",
    )
    parser.addini(
        "jobkit_redis_url",
        default="",
        help="default for --jobkit-redis-url",
    )
    group.addoption(
        "--jobkit-strict",
        dest="jobkit_strict",
        action="store_true",
        default=None,
        help="fail tests that enqueue jobs they neither assert nor drain",
    )
    parser.addini(
        "jobkit_strict",
        type="bool",
        default=False,
        help="default for --jobkit-strict",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "jobkit(inline=False, strict=False, retry_jitter=False): use the jobkit fixture; "
        "inline=True runs jobs at enqueue time, strict=True fails the test on jobs neither "
        "asserted nor drained, retry_jitter=True adds Sidekiq's retry jitter (seeded per test)",
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        # The fixture reads this at teardown to skip strict checks after a failure.
        item._jobkit_call_report = report  # type: ignore[attr-defined]
    return report
