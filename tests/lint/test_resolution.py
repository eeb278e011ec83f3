"""Names resolve through imports across the whole linted tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobkit_lint import Config, lint_paths

from .helpers import FIXTURES, write_tree

CROSS = FIXTURES / "crossmodule"


@pytest.fixture
def cross_findings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, str]]:
    monkeypatch.chdir(CROSS)
    report = lint_paths(["."], config=Config(root=CROSS), jobs=1, use_cache=False)
    return [(f.path, f.line, f.code) for f in report]


def test_dramatiq_actor_imported_from_another_module_is_an_enqueue(
    cross_findings: list[tuple[str, int, str]],
) -> None:
    assert ("shop/views.py", 12, "JK101") in cross_findings


def test_websocket_send_and_django_signal_send_are_not_enqueues(
    cross_findings: list[tuple[str, int, str]],
) -> None:
    view_lines = [line for path, line, _ in cross_findings if path == "shop/views.py"]
    assert view_lines == [12]


def test_job_inheriting_a_project_base_job_in_another_module_is_a_job(
    cross_findings: list[tuple[str, int, str]],
) -> None:
    assert ("shop/jobs.py", 8, "JK301") in cross_findings


def test_relative_imports_resolve_within_the_package(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "app/__init__.py": "",
        "app/actors.py": """\
            import dramatiq

            @dramatiq.actor
            def notify(user_id):
                pass
        """,
        "app/views.py": """\
            from datetime import datetime

            from .actors import notify

            def view(request):
                notify.send(datetime.now())
        """,
    })
    report = lint_paths([tmp_path], config=Config(root=tmp_path), jobs=1, use_cache=False)
    assert [(Path(f.path).name, f.code) for f in report] == [("views.py", "JK102")]


def test_configured_model_base_class_makes_subclasses_models(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "pyproject.toml": """\
            [tool.jobkit-lint]
            model-base-classes = ["core.records.Record"]
        """,
        "core/__init__.py": "",
        "core/records.py": "class Record:\n    pass\n",
        "core/entities.py": """\
            from core.records import Record

            class Invoice(Record):
                pass
        """,
        "core/flows.py": """\
            from core.entities import Invoice
            from core.tasks import send

            def flow(invoice: Invoice):
                send.delay(invoice)
        """,
    })
    report = lint_paths([tmp_path], jobs=1, use_cache=False)
    assert [f.code for f in report] == ["JK101"]
