"""Loading the plugin costs nothing until a test asks for the fixture."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("redis", "fakeredis", "hypothesis", "jobkit", "jobkit.worker", "lupa")


def test_importing_the_plugin_imports_no_redis_worker_or_hypothesis() -> None:
    code = (
        "import sys, jobkit_pytest, jobkit_pytest.plugin, jobkit_pytest.fixtures\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    from importlib.metadata import entry_points

    [entry] = [e for e in entry_points(group="pytest11") if e.name == "jobkit"]
    assert entry.value == "jobkit_pytest.plugin"
