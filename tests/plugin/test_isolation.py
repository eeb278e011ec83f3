"""Each test gets its own Redis data, cleaned afterwards, with jobkit's settings restored."""

from __future__ import annotations

import json

import pytest
import redis

from tests.plugin import helpers
from tests.plugin.helpers import REDIS_URL, Backend, Inner, require_real_redis

LEAK = """
import json
import pathlib
import jobkit as jk
from app_jobs import ProcessPaymentJob, SendReceiptJob


def test_first_leaves_jobs_behind(jobkit):
    ProcessPaymentJob.perform_async(1)
    SendReceiptJob.perform_in(60, 1)
    pathlib.Path("namespaces.json").write_text(json.dumps([jobkit.settings.namespace]))


def test_second_sees_none_of_them(jobkit):
    jobkit.assert_not_enqueued()
    assert jobkit.retries == [] and jobkit.dead == []
    names = json.loads(pathlib.Path("namespaces.json").read_text())
    pathlib.Path("namespaces.json").write_text(json.dumps(names + [jobkit.settings.namespace]))


def test_settings_are_restored_after_the_fixture():
    assert not jk.get_settings().redis_url.startswith("memory://jobkit-test-")
"""


def test_nothing_leaks_between_tests_and_real_redis_keys_are_deleted(
    inner: Inner, backend: Backend
) -> None:
    inner.run(LEAK, backend=backend).assert_outcomes(passed=3)
    if backend.name == "redis":
        namespaces = json.loads((inner.pytester.path / "namespaces.json").read_text())
        assert len(set(namespaces)) == 2
        client = redis.Redis.from_url(REDIS_URL)
        try:
            for namespace in namespaces:
                assert list(client.scan_iter(match=f"{namespace}:*")) == []
        finally:
            client.close()


XDIST = """
import pytest
from app_jobs import ProcessPaymentJob


@pytest.mark.parametrize("n", range(8))
def test_parallel(jobkit, n):
    ProcessPaymentJob.perform_async(n)
    jobkit.assert_enqueued(ProcessPaymentJob, n)
    assert jobkit.drain(ProcessPaymentJob).performed == 1
"""


def test_it_works_under_xdist(inner: Inner, backend: Backend) -> None:
    result = inner.run(XDIST, "-n", "2", backend=backend)
    result.assert_outcomes(passed=8)


SETTINGS = """
import pytest
import jobkit as jk


class Stamp(jk.ClientMiddleware):
    def enqueue(self, payload, call_next):
        payload["stamp"] = "app"
        return call_next(payload)


APP_SETTINGS = jk.configure(namespace="app", client_middleware=[Stamp()])


@pytest.fixture(autouse=True, scope="module")
def _restore():
    yield
    jk.configure(APP_SETTINGS.replace(namespace="", client_middleware=()))

from app_jobs import SyncUserJob


def test_app_middleware_and_namespace_are_kept(jobkit):
    SyncUserJob.perform_async({})
    job = jobkit.assert_enqueued(SyncUserJob)
    assert job.payload["stamp"] == "app"
    assert job.location == "test_inner.py:23"  # the caller, not the middleware
    assert jobkit.settings.namespace.startswith("app:jobkit-test-")
    assert jobkit.backend.redis.llen(f"{jobkit.settings.namespace}:queue:default") == 1
"""


def test_the_apps_settings_and_middleware_are_kept_on_the_embedded_backend(inner: Inner) -> None:
    inner.run(SETTINGS).assert_outcomes(passed=1)


def test_the_real_redis_variant_skips_locally_but_fails_in_ci_without_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(helpers, "redis_answers", lambda: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires"):
        require_real_redis()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no Redis answers"):
        require_real_redis()


INI_URL = """
def test_uses_the_real_redis_from_the_ini(jobkit):
    assert not jobkit.backend.memory
    assert jobkit.settings.namespace.startswith("jobkit-test-")
    assert jobkit.backend.redis.ping()
"""


@pytest.mark.redis
def test_the_redis_url_can_come_from_the_ini_key(inner: Inner) -> None:
    require_real_redis()
    inner.ini(f"jobkit_redis_url = {REDIS_URL}\n")
    inner.run(INI_URL).assert_outcomes(passed=1)


SHARED = """
import pathlib
import jobkit as jk
from app_jobs import ProcessPaymentJob


def test_first_leaves_a_worker_thread_running(jobkit):
    ProcessPaymentJob.perform_async(1)
    pathlib.Path("url.txt").write_text(jobkit.backend.url)
    pathlib.Path("ns.txt").write_text(jobkit.backend.namespace)
    worker = jk.Worker(jk.get_settings(), jk.WorkerOptions(queues=(("critical", 1),),
                                                           idle_wait=0.01, log_jobs=False))
    worker.start()  # never stopped: it keeps polling the first test's namespace


def test_second_shares_the_server_but_not_the_jobs(jobkit):
    assert jobkit.backend.url == pathlib.Path("url.txt").read_text()
    assert jobkit.backend.namespace != pathlib.Path("ns.txt").read_text()
    jobkit.assert_not_enqueued()
    ProcessPaymentJob.perform_async(2)
    import time
    time.sleep(0.2)  # give the leftover worker every chance to steal it
    jobkit.assert_enqueued(ProcessPaymentJob, 2)
"""


def test_tests_share_one_embedded_server_but_never_see_each_others_jobs(
    inner: Inner,
) -> None:
    inner.run(SHARED).assert_outcomes(passed=2)
