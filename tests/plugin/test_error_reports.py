"""What a user sees when something goes wrong in the plugin itself: one error each, said once."""

from __future__ import annotations

from tests.plugin.helpers import Inner


def test_an_unreachable_redis_url_reports_one_error_the_backend_error(inner: Inner) -> None:
    result = inner.run("def test_x(jobkit):\n    pass\n",
                       "--jobkit-redis-url=redis://127.0.0.1:1/0")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "E * jobkit_pytest.errors.BackendError: --jobkit-redis-url=redis://127.0.0.1:1/0 does "
        "not answer (*); start that Redis, or drop the option to use the embedded fakeredis "
        "backend",
        "ERROR test_inner.py::test_x - jobkit_pytest.errors.BackendError: *",
    ])
    text = result.stdout.str()
    # The harness's clean-up after the failed start used to reach Redis again and raise a
    # redis ConnectionError over it, hundreds of lines of redis-py frames.
    assert "ConnectionError" not in text, text
    assert "During handling of the above exception" not in text, text
    assert "direct cause" not in text, text
    errors = [line for line in result.outlines if line.startswith("E ")]
    assert len([line for line in errors if "BackendError" in line]) == 1, text


STRICT = """
import pytest
from app_jobs import SyncUserJob


@pytest.mark.jobkit(strict=True)
def test_unasserted(jobkit):
    SyncUserJob.perform_async({"id": 1})
"""


def test_the_strict_mode_listing_is_printed_once(inner: Inner) -> None:
    result = inner.run(STRICT)
    result.assert_outcomes(passed=1, errors=1)
    text = result.stdout.str()
    assert "During handling of the above exception" not in text, text
    # The teardown report only: under CI=true pytest repeats the whole message, untruncated,
    # in its short test summary, which is pytest's doing and not a second report.
    report = text.split("short test summary info", 1)[0].splitlines()
    listing = [line for line in report if line.startswith("strict mode: ")]
    jobs = [line for line in report if line.startswith("  - app_jobs.SyncUserJob(")]
    assert (len(listing), len(jobs)) == (1, 1), text
