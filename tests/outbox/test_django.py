"""The ``jobkit.django`` app in a real Django project on PostgreSQL, written by the test:
settings from ``settings.JOBKIT``, the outbox migration, after-commit and outbox enqueues,
``manage.py jobkit_worker`` relaying and running them, and the system check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import jobkit
from tests.needs import REAL_REDIS_URL, require_real_redis
from tests.outbox.databases import server_database
from tests.outbox.jobs import queued

ROOT = Path(__file__).resolve().parents[2]

SETTINGS = '''
import os
SECRET_KEY = "test"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "jobkit.django", "shop"]
DATABASES = {{"default": {{
    "ENGINE": "django.db.backends.postgresql", "NAME": {name!r}, "USER": "postgres",
    "HOST": {host!r}, "PORT": {port!r},
}}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
JOBKIT = {{"REDIS_URL": {redis!r}, "NAMESPACE": {namespace!r}, "OUTBOX_DATABASE": "default",
          "HEARTBEAT_INTERVAL": 1}}
if os.environ.get("SHOP_BAD_JOBKIT"):
    JOBKIT = {{"REDIS_URL": "nowhere", "POLL_INTERVAL": -1, "OUTBOX_DATABASE": "missing"}}
'''

MODELS = '''
from django.db import models


class Order(models.Model):
    item = models.CharField(max_length=50)
    charged = models.BooleanField(default=False)
    audited = models.BooleanField(default=False)
'''

JOBS = '''
import jobkit


class ChargeOrderJob(jobkit.Job):
    name = "shop.ChargeOrderJob"

    def perform(self, order_id):
        from shop.models import Order

        # Raises DoesNotExist if the job ran before the order's transaction committed.
        Order.objects.filter(pk=Order.objects.get(pk=order_id).pk).update(charged=True)


class AuditJob(jobkit.Job):
    name = "shop.AuditJob"

    def perform(self, order_id):
        from shop.models import Order

        Order.objects.filter(pk=order_id).update(audited=True)
'''

PLACE_ORDERS = '''
import json, django
django.setup()
from django.db import transaction
import jobkit
from shop.models import Order
from shop.jobs import AuditJob, ChargeOrderJob

committed, pending_seen = [], []
with transaction.atomic():
    order = Order.objects.create(item="book")
    ChargeOrderJob.set(after_commit=True).perform_async(order.pk)
    AuditJob.set(outbox=True).perform_async(order.pk)
    pending_seen = [p["args"] for p in jobkit.pending_after_commit()]
    try:
        with transaction.atomic():
            ChargeOrderJob.set(after_commit="default").perform_async(-1)
            AuditJob.set(outbox="default").perform_async(-1)
            raise ValueError("savepoint rolled back")
    except ValueError:
        pass
    committed.append(order.pk)
try:
    with transaction.atomic():
        gone = Order.objects.create(item="lamp")
        ChargeOrderJob.set(after_commit=True).perform_async(gone.pk)
        AuditJob.set(outbox=True).perform_async(gone.pk)
        raise RuntimeError("rolled back")
except RuntimeError:
    pass
try:
    AuditJob.set(after_commit="replica")
except jobkit.JobDefinitionError as e:
    bad_alias = str(e)
print(json.dumps({"committed": committed, "pending_seen": pending_seen,
                  "bad_alias": bad_alias}))
'''

STATE = '''
import json, django
django.setup()
from shop.models import Order
print(json.dumps([[o.pk, o.charged, o.audited] for o in Order.objects.order_by("pk")]))
'''


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    require_real_redis()
    namespace = f"jkdj-{uuid.uuid4().hex[:8]}"
    for url, _ in server_database("postgresql"):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        (tmp_path / "shopsite").mkdir()
        (tmp_path / "shopsite" / "__init__.py").write_text("")
        (tmp_path / "shopsite" / "settings.py").write_text(SETTINGS.format(
            name=parts.path.lstrip("/"), host=parts.hostname, port=str(parts.port or 5432),
            redis=REAL_REDIS_URL, namespace=namespace))
        (tmp_path / "shop").mkdir()
        (tmp_path / "shop" / "__init__.py").write_text("")
        (tmp_path / "shop" / "models.py").write_text(MODELS)
        (tmp_path / "shop" / "jobs.py").write_text(JOBS)
        (tmp_path / "manage.py").write_text(
            "import sys\nfrom django.core.management import execute_from_command_line\n"
            "execute_from_command_line(sys.argv)\n")
        (tmp_path / "place_orders.py").write_text(PLACE_ORDERS)
        (tmp_path / "state.py").write_text(STATE)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shopsite.settings",
               "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
        yield tmp_path, env, namespace
        return


def _run(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)


def test_django_project_enqueues_after_commit_and_through_the_outbox(
    project: tuple[Path, dict[str, str], str],
) -> None:
    path, env, namespace = project
    for step in (["manage.py", "makemigrations", "shop"], ["manage.py", "migrate"]):
        out = _run(path, env, *step)
        assert out.returncode == 0, out.stdout + out.stderr
    assert "[X] 0001_initial" in _run(path, env, "manage.py", "showmigrations", "jobkit").stdout
    out = _run(path, env, "place_orders.py")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    (order_id,) = result["committed"]
    # Pending inside the transaction: the after-commit job only (the outbox is a row).
    assert result["pending_seen"] == [[order_id]]
    assert "no Django database 'replica'" in result["bad_alias"]
    settings = jobkit.Settings(redis_url=REAL_REDIS_URL, namespace=namespace)
    # The after-commit job of the committed order only; none from the savepoint or rollback.
    assert [p["args"] for p in queued(settings)] == [[order_id]]

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "jobkit_worker", "-c", "2",
         "--outbox-poll-interval", "0.1"],
        cwd=path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            state = json.loads(_run(path, env, "state.py").stdout)
            if state == [[order_id, True, True]] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    assert state == [[order_id, True, True]], err.decode()[-3000:]
    assert worker.returncode == 0, err.decode()[-3000:]
    status = _run(ROOT, env, "-m", "jobkit", "outbox", "status", "--json", "--database-url",
                  _url_of(path, env))
    assert json.loads(status.stdout)["waiting"] == 0


def test_django_system_check_reports_bad_jobkit_settings(
    project: tuple[Path, dict[str, str], str],
) -> None:
    path, env, _ = project
    out = _run(path, {**env, "SHOP_BAD_JOBKIT": "1"}, "manage.py", "check")
    assert out.returncode != 0
    assert "jobkit.E001" in out.stderr and "redis_url='nowhere'" in out.stderr
    assert "jobkit.E002" in out.stderr and "'missing'" in out.stderr
    assert _run(path, env, "manage.py", "check").returncode == 0


def _url_of(path: Path, env: dict[str, str]) -> str:
    code = ("import django; django.setup(); from jobkit.django.conf import database_url; "
            "print(database_url('default'))")
    return _run(path, env, "-c", code).stdout.strip()
