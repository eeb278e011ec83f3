"""The package's promises about itself: light imports, typed public API, the demo."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest
import redis

import jobkit
import jobkit_lint
from jobkit import demo
from jobkit.cli import main
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


def test_demo_runs_the_workload_on_the_embedded_redis() -> None:
    out = io.StringIO()
    summary = demo.run(redis_url=None, orders=20, out=out)
    # 40 order/receipt jobs + the report, 1 sync job failing twice, 1 import failing twice.
    assert summary["processed"] == 20 * 2 + 1 + 3 + 2
    assert (summary["failed"], summary["retried"], summary["dead"]) == (4, 3, 1)
    assert summary["queues"]["critical"]["jobs"] == 20
    assert summary["queues"]["mailers"]["jobs"] == 20
    assert "ImportLegacyOrderJob" in summary["deaths"][0]
    text = out.getvalue()
    assert "done in" in text and "critical" in text and "dead: demo.ImportLegacyOrderJob" in text


def test_demo_on_a_real_redis_leaves_no_key_behind(capsys: pytest.CaptureFixture[str]) -> None:
    require_real_redis()
    r = redis.Redis.from_url(REAL_REDIS_URL)
    # Another demo's key on the same server: this run must not touch it.
    neighbour = f"jobkit-demo:{uuid.uuid4().hex[:12]}:queue:default"
    r.lpush(neighbour, "{}")
    before = set(r.scan_iter(match="jobkit-demo*", count=1000))
    try:
        assert main(["demo", "--redis-url", REAL_REDIS_URL, "--orders", "5"]) == 0
        out = capsys.readouterr().out
        assert "done in" in out and "performed (4 failed: 3 retried, 1 dead)" in out
        assert set(r.scan_iter(match="jobkit-demo*", count=1000)) == before
        assert neighbour.encode() in before
    finally:
        r.delete(neighbour)
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
    assert "performed (4 failed: 3 retried, 1 dead)" in out.stdout
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
