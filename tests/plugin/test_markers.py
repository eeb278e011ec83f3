"""The ``jobkit`` marker (inline, strict), the ini keys and the command-line options."""

from __future__ import annotations

from tests.plugin.helpers import Backend, Inner

INLINE = """
import pytest
from app_jobs import CALLS, BrokenJob, ProcessPaymentJob, SyncUserJob


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()


@pytest.mark.jobkit(inline=True)
def test_inline_runs_jobs_at_enqueue_time_with_nested_jobs(jobkit):
    jid = ProcessPaymentJob.perform_async(1)
    assert isinstance(jid, str) and len(jid) == 24
    assert CALLS == [("pay", 1), ("receipt", 1)]
    jobkit.assert_not_enqueued()


@pytest.mark.jobkit(inline=True)
def test_inline_runs_scheduled_jobs_at_once(jobkit):
    SyncUserJob.perform_in(3600, {"id": 9})
    assert CALLS == [("sync", {"id": 9})]
    jobkit.assert_not_enqueued()


@pytest.mark.jobkit(inline=True)
def test_inline_args_go_through_json(jobkit):
    SyncUserJob.perform_async({"id": 1, "when": "2020-01-01"})
    assert CALLS == [("sync", {"id": 1, "when": "2020-01-01"})]


@pytest.mark.jobkit(inline=True)
def test_inline_raises_the_jobs_exception(jobkit):
    with pytest.raises(ValueError, match="broken 3"):
        BrokenJob.perform_async(3)


@pytest.mark.jobkit(inline=True)
def test_marker_alone_activates_the_fixture():
    ProcessPaymentJob.perform_async(2)
    assert CALLS == [("pay", 2), ("receipt", 2)]


def test_inline_can_be_switched_on_in_the_test(jobkit):
    jobkit.inline = True
    SyncUserJob.perform_async({})
    jobkit.inline = False
    SyncUserJob.perform_async({"later": True})
    assert CALLS == [("sync", {})]
    jobkit.assert_enqueued(SyncUserJob, {"later": True})
"""


def test_inline_mode_runs_jobs_when_they_are_enqueued(inner: Inner, backend: Backend) -> None:
    inner.run(INLINE, backend=backend).assert_outcomes(passed=6)


STRICT = """
import pytest
from app_jobs import ProcessPaymentJob, SyncUserJob


@pytest.mark.jobkit(strict=True)
def test_unasserted_job_fails(jobkit):
    SyncUserJob.perform_async({"id": 1})
    ProcessPaymentJob.perform_async(9)
    jobkit.assert_enqueued(ProcessPaymentJob, 9)


@pytest.mark.jobkit(strict=True)
def test_asserted_and_drained_jobs_pass(jobkit):
    SyncUserJob.perform_async({"id": 1})
    ProcessPaymentJob.perform_async(9)
    jobkit.assert_enqueued(ProcessPaymentJob, 9)
    jobkit.drain(SyncUserJob)


@pytest.mark.jobkit(strict=True)
def test_inspected_jobs_pass(jobkit):
    with jobkit.capture() as jobs:
        SyncUserJob.perform_async({"id": 1})
    ProcessPaymentJob.perform_async(9)
    assert len(jobs) == 1 and len(jobkit.enqueued(ProcessPaymentJob)) == 1


def test_not_strict_by_default(jobkit):
    SyncUserJob.perform_async({"id": 1})
"""


def test_strict_mode_fails_at_teardown_listing_unasserted_jobs(inner: Inner) -> None:
    result = inner.run(STRICT)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unasserted_job_fails*",
            "strict mode: 1 job(s) were enqueued but neither asserted nor drained*",
            "  - app_jobs.SyncUserJob({\"id\": 1}) on 'default' (enqueued at test_inner.py:7)",
        ]
    )


STRICT_BY_CONFIG = """
import pytest
from app_jobs import SyncUserJob


def test_unasserted(jobkit):
    SyncUserJob.perform_async({"id": 1})


@pytest.mark.jobkit(strict=False)
def test_marker_overrides_ini(jobkit):
    SyncUserJob.perform_async({"id": 1})


def test_failed_tests_skip_the_strict_listing(jobkit):
    SyncUserJob.perform_async({"id": 1})
    assert False, "the real failure"
"""


def test_strict_mode_comes_from_the_ini_key(inner: Inner) -> None:
    inner.ini("jobkit_strict = true\n")
    result = inner.run(STRICT_BY_CONFIG)
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_failed_tests_skip*")


def test_strict_mode_comes_from_the_command_line(inner: Inner) -> None:
    result = inner.run(STRICT_BY_CONFIG, "--jobkit-strict")
    result.assert_outcomes(passed=2, failed=1, errors=1)


BAD_MARKER = """
import pytest


@pytest.mark.jobkit(inlne=True)
def test_typo(jobkit):
    pass


@pytest.mark.jobkit("inline")
def test_positional(jobkit):
    pass
"""


def test_marker_options_are_validated_by_name(inner: Inner) -> None:
    result = inner.run(BAD_MARKER)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*UsageError: @pytest.mark.jobkit: unknown option 'inlne'; options: inline, strict, "
            "retry_jitter",
            "*UsageError: @pytest.mark.jobkit takes keyword options only*",
        ]
    )


def test_the_plugin_registers_its_marker_and_options(inner: Inner) -> None:
    result = inner.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.jobkit(inline=False, strict=False, retry_jitter=False):*"]
    )
    result = inner.runpytest("--help")
    result.stdout.fnmatch_lines(["*--jobkit-redis-url=*", "*--jobkit-strict*"])
    result.stdout.fnmatch_lines(["*jobkit_redis_url (string):*", "*jobkit_strict (bool):*"])


def test_an_unreachable_redis_url_is_an_actionable_setup_error(inner: Inner) -> None:
    result = inner.run(
        "def test_x(jobkit):\n    pass\n", "--jobkit-redis-url=redis://127.0.0.1:1/0"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*BackendError: --jobkit-redis-url=redis://127.0.0.1:1/0 does not answer*"]
    )
