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


def _lint(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, str]]:
    write_tree(tmp_path, files)
    report = lint_paths([tmp_path], jobs=1, use_cache=False)
    return [(Path(f.path).name, f.code) for f in report]


TASK_WITH_A_SET = """\
    from shop.tasks import cleanup

    def view(request):
        cleanup.delay({"a", "b"})
"""


def test_pickle_task_serializer_in_settings_turns_json_checks_off(tmp_path: Path) -> None:
    assert _lint(tmp_path, {
        "shop/__init__.py": "",
        "shop/settings.py": 'import os\nCELERY_TASK_SERIALIZER = os.getenv("SER", "pickle")\n',
        "shop/tasks.py": "from celery import shared_task\n\n@shared_task\ndef cleanup(when):\n"
                         "    pass\n",
        "shop/views.py": TASK_WITH_A_SET,
    }) == []


def test_json_task_serializer_set_through_app_conf_keeps_json_checks(tmp_path: Path) -> None:
    assert _lint(tmp_path, {
        "shop/__init__.py": "",
        "shop/celery.py": 'from celery import Celery\napp = Celery("shop")\n'
                          'app.conf.update(task_serializer="json")\n',
        "shop/tasks.py": "from celery import shared_task\n\n@shared_task\ndef cleanup(when):\n"
                         "    pass\n",
        "shop/views.py": TASK_WITH_A_SET,
    }) == [("views.py", "JK102")]


def test_rq_json_serializer_anywhere_in_the_project_turns_json_checks_on(tmp_path: Path) -> None:
    files = {
        "work/__init__.py": "",
        "work/queue.py": "from rq import Queue\n\ndef enqueue(when):\n"
                         "    Queue().enqueue('work.resize', {'tags': {'a'}})\n",
    }
    assert _lint(tmp_path / "pickled", files) == []
    files["work/conn.py"] = "from rq.serializers import JSONSerializer\n"
    assert _lint(tmp_path / "json", files) == [("queue.py", "JK102")]


def test_decorator_alias_defined_in_another_module_makes_a_job(tmp_path: Path) -> None:
    assert _lint(tmp_path, {
        "app/__init__.py": "",
        "app/celeryconf.py": "from celery import Celery\napp = Celery('app')\n"
                             "retrying_task = app.task(bind=True, max_retries=3)\n",
        "app/jobs.py": """\
            from app.celeryconf import retrying_task

            @retrying_task
            def sync(self, order_id):
                try:
                    push(order_id)
                except Exception:
                    log.exception("failed")
        """,
    }) == [("jobs.py", "JK301")]


def test_celery_class_based_task_on_an_app_task_base_is_a_job(tmp_path: Path) -> None:
    assert _lint(tmp_path, {
        "app/__init__.py": "",
        "app/celeryconf.py": "from celery import Celery\napp = Celery('app')\n",
        "app/base.py": "from app.celeryconf import app\n\nclass BaseTask(app.Task):\n"
                       "    abstract = True\n",
        "app/jobs.py": """\
            from app.base import BaseTask

            class Sync(BaseTask):
                def run(self, order_id):
                    try:
                        push(order_id)
                    except Exception:
                        log.exception("failed")

                def on_failure(self, exc, task_id, args, kwargs, einfo):
                    try:
                        alert(task_id)
                    except Exception:
                        pass
        """,
    }) == [("jobs.py", "JK301")]


def test_django_task_is_not_mistaken_for_rq(tmp_path: Path) -> None:
    assert _lint(tmp_path, {
        "mail/__init__.py": "",
        "mail/tasks.py": "from django.tasks import task\n\n@task\ndef send(user_id):\n"
                         "    pass\n",
        "mail/views.py": """\
            from datetime import datetime

            from mail.tasks import send

            def view(request):
                send.enqueue(datetime.now())
                send.using(queue_name="low").enqueue(request.user.id)
        """,
    }) == [("views.py", "JK102")]


ATOMIC_VIEW = """\
    from django.db import transaction
    from shop.tasks import ship
    from shop.db import unit_of_work

    def view(order_id):
        with transaction.atomic(using="analytics"):
            ship.delay(order_id)
        with unit_of_work():
            ship.delay(order_id)
"""


def test_read_only_databases_and_transaction_managers_are_configurable(tmp_path: Path) -> None:
    files = {"shop/__init__.py": "", "shop/views.py": ATOMIC_VIEW}
    assert _lint(tmp_path / "default", files) == [("views.py", "JK402")]
    lines = [f.line for f in lint_paths([tmp_path / "default"], jobs=1, use_cache=False)]
    assert lines == [7]
    files["pyproject.toml"] = """\
        [tool.jobkit-lint]
        read-only-databases = ["analytics"]
        transaction-managers = ["shop.db.unit_of_work"]
    """
    assert _lint(tmp_path / "configured", files) == [("views.py", "JK402")]
    lines = [f.line for f in lint_paths([tmp_path / "configured"], jobs=1, use_cache=False)]
    assert lines == [9]
