"""The ``jobkit`` fixture. Importing this module is cheap: the harness (and with it jobkit,
redis and fakeredis) is imported only when a test asks for the fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .errors import StrictModeError, UsageError

if TYPE_CHECKING:
    from .harness import Harness

MARKER_OPTIONS = ("inline", "strict", "retry_jitter")


def marker_options(node: pytest.Item) -> dict[str, Any]:
    """The keyword options of the closest ``@pytest.mark.jobkit``, validated eagerly."""
    marker = node.get_closest_marker("jobkit")
    if marker is None:
        return {}
    if marker.args:
        raise UsageError(
            f"@pytest.mark.jobkit takes keyword options only ({', '.join(MARKER_OPTIONS)}), "
            f"got positional {marker.args!r}"
        )
    for key, value in marker.kwargs.items():
        if key not in MARKER_OPTIONS:
            raise UsageError(
                f"@pytest.mark.jobkit: unknown option {key!r}; options: {', '.join(MARKER_OPTIONS)}"
            )
        if not isinstance(value, bool):
            raise UsageError(f"@pytest.mark.jobkit: {key}={value!r} must be True or False")
    return dict(marker.kwargs)


def _flag(config: pytest.Config, name: str) -> bool:
    value = config.getoption(name)
    if value is None:
        raw = config.getini(name)
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes")
    return bool(value)


@pytest.fixture
def jobkit(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """jobkit pointed at an isolated Redis for this test, with assertions, drain and a clock.

    Options come from ``@pytest.mark.jobkit(inline=..., strict=..., retry_jitter=...)``, then
    ``--jobkit-strict``/``jobkit_strict`` and ``--jobkit-redis-url``/``jobkit_redis_url``.
    """
    from .harness import Harness

    options = marker_options(request.node)
    url = request.config.getoption("jobkit_redis_url") or request.config.getini(
        "jobkit_redis_url"
    )
    strict = options.get("strict", _flag(request.config, "jobkit_strict"))
    harness = Harness(
        redis_url=url or None,
        inline=options.get("inline", False),
        strict=strict,
        retry_jitter=options.get("retry_jitter", False),
        seed=request.node.nodeid,
    )
    try:
        yield harness
        call = getattr(request.node, "_jobkit_call_report", None)
        # A failed test already says what went wrong; the strict listing would be noise.
        if harness.strict and not (call is not None and call.failed):
            left = _strict_listing(harness)
            if left:
                # The listing is the whole story; the fixture's traceback would bury it. Failing
                # outside the except block keeps pytest from printing it twice, chained.
                pytest.fail(left, pytrace=False)
    finally:
        harness.close()


def _strict_listing(harness: Harness) -> str:
    """The strict-mode failure message, or "" when every job was asserted or drained."""
    try:
        harness.check_strict()
    except StrictModeError as e:
        return str(e)
    return ""


@pytest.fixture(autouse=True)
def _jobkit_marker(request: pytest.FixtureRequest) -> None:
    """``@pytest.mark.jobkit`` activates the ``jobkit`` fixture without naming it."""
    if request.node.get_closest_marker("jobkit") is not None:
        request.getfixturevalue("jobkit")
