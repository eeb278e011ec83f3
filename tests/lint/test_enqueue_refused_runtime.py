"""JK104 agrees with the jobkit runtime: INVALID examples raise ArgumentError, VALID enqueue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import jobkit
from jobkit.connection import drop_memory_server
from jobkit_lint import get_rule, lint_source

RULE = get_rule("JK104")


@pytest.fixture
def memory_jobkit() -> Iterator[None]:
    namespace = f"jk104-{uuid.uuid4().hex[:12]}"
    previous = jobkit.get_settings()
    jobkit.configure(jobkit.Settings(redis_url=f"memory://{namespace}", namespace=namespace))
    yield
    jobkit.configure(previous)
    drop_memory_server(f"memory://{namespace}")


def _run(source: str, name: str) -> None:
    # A unique module name per example keeps the job names (and the registry) apart.
    exec(compile(source, f"<{name}>", "exec"), {"__name__": name})


@pytest.mark.parametrize("number", range(len(RULE.INVALID)))
def test_every_invalid_example_is_refused_by_the_runtime(memory_jobkit: None, number: int) -> None:
    source = RULE.INVALID[number]
    assert "JK104" in [f.code for f in lint_source(source)]
    with pytest.raises(jobkit.ArgumentError):
        _run(source, f"jk104_invalid_{number}_{uuid.uuid4().hex[:6]}")


@pytest.mark.parametrize("number", range(len(RULE.VALID)))
def test_every_valid_example_is_accepted_by_the_runtime(memory_jobkit: None, number: int) -> None:
    source = RULE.VALID[number]
    assert "JK104" not in [f.code for f in lint_source(source)]
    _run(source, f"jk104_valid_{number}_{uuid.uuid4().hex[:6]}")


@pytest.mark.parametrize("call", [
    "ShipJob.perform_async((1, 2))",
    "ShipJob.perform_async({2: 'b'})",
    "ShipJob.perform_async(float('inf'))",
    "ShipJob.perform_async(-math.inf)",
    "ShipJob.set(queue='low').perform_async(1, 2, 3)",
    "ShipJob.perform_at(0, order_id=1)",
    "ShipJob.perform_in(5)",
    "ShipJob.perform_bulk([[1, 2, 3]])",
    "ShipJob.perform_async([{'a': (1,)}])",
    "Child.perform_async()",
])
def test_each_refusal_is_found_and_raised(memory_jobkit: None, call: str) -> None:
    source = (
        "import math\nimport jobkit\n\n"
        "class ShipJob(jobkit.Job):\n    def perform(self, order_id, note=None):\n        pass\n\n"
        "class Child(ShipJob):\n    pass\n\n"
        f"{call}\n"
    )
    assert "JK104" in [f.code for f in lint_source(source)], call
    with pytest.raises(jobkit.ArgumentError):
        _run(source, f"jk104_case_{uuid.uuid4().hex[:6]}")


@pytest.mark.parametrize("call", [
    "ShipJob.perform_async(*rows)",
    "ShipJob.perform_async(1, 'x')",
    "ShipJob.perform_async({'2': 'b', 'n': 1.5})",
    "ShipJob.perform_bulk([[1], [2, None]], batch_size=10)",
    "Variadic.perform_async(1, 2, 3, 4)",
])
def test_accepted_enqueues_are_not_flagged(memory_jobkit: None, call: str) -> None:
    source = (
        "import jobkit\n\nrows = [1]\n\n"
        "class ShipJob(jobkit.Job):\n    def perform(self, order_id, note=None):\n        pass\n\n"
        "class Variadic(jobkit.Job):\n    def perform(self, first, *rest):\n        pass\n\n"
        f"{call}\n"
    )
    assert "JK104" not in [f.code for f in lint_source(source)], call
    _run(source, f"jk104_ok_{uuid.uuid4().hex[:6]}")
