"""Job classes and function jobs: options validated at class creation, registry, arity."""

from __future__ import annotations

from typing import Any

import pytest

import jobkit
from jobkit import ArgumentError, JobDefinitionError
from jobkit.registry import lookup, unregister


def test_default_name_is_module_and_qualname_and_is_registered() -> None:
    class ReportJob(jobkit.Job):
        def perform(self, x: int) -> None: ...

    assert ReportJob.name.endswith("test_job_definition.test_default_name_is_module_and_"
                                   "qualname_and_is_registered.<locals>.ReportJob")
    assert lookup(ReportJob.name) is ReportJob


def test_name_override_lets_ruby_enqueue_it() -> None:
    class ProcessOrderJobPy(jobkit.Job):
        name = "ProcessOrderJob_definition_test"

        def perform(self, x: int) -> None: ...

    assert lookup("ProcessOrderJob_definition_test") is ProcessOrderJobPy
    unregister("ProcessOrderJob_definition_test")


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"queue": ""}, "queue='' must be a non-empty string"),
        ({"queue": "a b"}, "queue='a b'"),
        ({"retry": -1}, "retry=-1 must be True"),
        ({"retry": "3"}, "retry='3'"),
        ({"dead": 1}, "dead=1 must be True or False"),
        ({"discard_on": (ValueError, "x")}, "discard_on item 'x' is not an exception class"),
        ({"unique": "forever"}, "unique='forever' must be None or one of"),
        ({"unique_for": 0}, "unique_for=0 must be a positive number"),
        ({"name": ""}, "name='' must be a non-empty string"),
        ({"tags": "vip"}, "tags='vip' must be a list of strings"),
    ],
)
def test_bad_option_is_rejected_when_the_class_is_created(attrs: dict[str, Any],
                                                          message: str) -> None:
    body = {"perform": lambda self, x: None, **attrs}
    with pytest.raises(JobDefinitionError, match=message.replace("(", "\\(")):
        type("BadJob", (jobkit.Job,), body)


def test_job_without_perform_is_rejected() -> None:
    with pytest.raises(JobDefinitionError, match="must define perform"):
        type("NoPerform", (jobkit.Job,), {})


def test_async_perform_defines_a_coroutine_job_with_the_same_arity_check() -> None:
    async def perform(self: Any, order_id: int, note: str = "") -> None: ...

    job = type("AsyncJobDefinition", (jobkit.Job,), {"perform": perform, "queue": "io"})
    assert job.is_coroutine() and job.options().queue == "io"
    with pytest.raises(ArgumentError, match=r"takes 1 to 2 argument\(s\) but 3 were given"):
        job.check_arity([1, "a", "b"])
    unregister(job.name)


def test_generator_perform_is_rejected_naming_the_job() -> None:
    async def perform(self: Any) -> Any:
        yield 1

    with pytest.raises(JobDefinitionError, match=r"AsyncGenJob.perform is a generator"):
        type("AsyncGenJob", (jobkit.Job,), {"perform": perform})


def test_two_classes_claiming_one_name_is_an_error() -> None:
    type("First", (jobkit.Job,), {"name": "clash-name", "perform": lambda self: None})
    with pytest.raises(JobDefinitionError, match="already registered"):
        class Second(jobkit.Job):
            name = "clash-name"

            def perform(self) -> None: ...
    unregister("clash-name")


def test_arity_is_checked_against_perform(settings: jobkit.Settings) -> None:
    class TwoArgs(jobkit.Job):
        def perform(self, a: int, b: int = 0) -> None: ...

    with pytest.raises(ArgumentError, match="takes 1 to 2 argument\\(s\\) but 3 were given"):
        TwoArgs.perform_async(1, 2, 3)
    with pytest.raises(ArgumentError, match="but 0 were given"):
        TwoArgs.perform_async()
    assert TwoArgs.perform_async(1)


def test_keyword_arguments_are_refused_with_a_hint(settings: jobkit.Settings) -> None:
    class K(jobkit.Job):
        def perform(self, order_id: int) -> None: ...

    with pytest.raises(ArgumentError, match="got order_id=1; pass them positionally"):
        K.perform_async(order_id=1)


def test_set_rejects_unknown_and_bad_overrides() -> None:
    class S(jobkit.Job):
        def perform(self) -> None: ...

    with pytest.raises(JobDefinitionError, match="unknown option 'priority'"):
        S.set(priority=1)
    with pytest.raises(JobDefinitionError, match="queue=''"):
        S.set(queue="")


def test_function_job_keeps_the_function_callable() -> None:
    @jobkit.job(queue="mailers", retry=5)
    def send_welcome(user_id: int) -> int:
        return user_id * 2

    assert send_welcome(21) == 42
    assert send_welcome.job_class.options().queue == "mailers"
    assert send_welcome.job_class.options().retry == 5
    assert jobkit.resolve(send_welcome) is send_welcome.job_class


def test_function_job_rejects_unknown_options() -> None:
    with pytest.raises(JobDefinitionError, match="unknown option 'qeue'"):
        @jobkit.job(qeue="x")
        def f() -> None: ...


def test_resolve_rejects_non_jobs() -> None:
    with pytest.raises(JobDefinitionError, match="is not a jobkit job"):
        jobkit.resolve(print)
