"""The precision decisions of JK103, JK302, JK303 and JK403, beyond their documented examples."""

from __future__ import annotations

import textwrap

import pytest

from jobkit_lint import lint_source
from jobkit_lint.rules.sensitive_argument import sensitive_kind


def found(source: str, code: str) -> list[tuple[int, str]]:
    return [
        (f.line, f.message) for f in lint_source(textwrap.dedent(source), path="example.py")
        if f.code == code
    ]


@pytest.mark.parametrize(("name", "kind"), [
    ("password", "a secret"), ("new_password", "a secret"), ("reset_token", "a secret"),
    ("accessToken", "a secret"), ("CRM_API_KEY", "a secret"), ("client_secret", "a secret"),
    ("aws_secret_access_key", "a secret"), ("credentials", "a secret"), ("otp", "a secret"),
    ("card_number", "card data"), ("cvv", "card data"), ("ssn", "a personal identifier"),
    ("passport_number", "a personal identifier"),
    ("token_id", None), ("password_reset_id", None), ("secret_name", None),
    ("has_password", None), ("token_count", None), ("max_tokens", None),
    ("api_key_prefix", None), ("page_token", None), ("next_token", None),
    ("device_token", None), ("csrf_token", None), ("card_last4", None), ("pwd", None),
    ("email", None), ("phone_number", None), ("key", None), ("cache_key", None),
    ("hashed_password", None), ("password_changed", None), ("token_expires_at", None),
])
def test_names_that_are_secrets_and_names_about_secrets(name: str, kind: str | None) -> None:
    assert sensitive_kind(name) == kind


def test_a_secret_value_passed_as_an_id_keyword_is_taken_at_the_keyword() -> None:
    assert [line for line, _ in found("""
        from exports.tasks import export

        def start(exporter):
            export.delay(token_id=exporter.token)
            export.delay(exporter.id, token=exporter.token)
    """, "JK103")] == [6]


def test_secrets_are_read_from_subscripts_get_calls_and_dict_keys_once_each() -> None:
    lines = [line for line, _ in found("""
        from accounts.tasks import signup

        def view(request, form):
            signup.delay(request.POST.get("password"))
            signup.delay(form.cleaned_data["api_key"])
            signup.delay({"password": form.value, "user_id": 1})
            signup.delay({"password": form.password})
    """, "JK103")]
    assert lines == [5, 6, 7, 8]


def test_sleep_in_a_helper_is_reported_with_the_helper_and_the_job() -> None:
    assert found("""
        import time
        from celery import shared_task

        def _wait():
            time.sleep(5)

        @shared_task
        def poll(export_id):
            _wait()
            _wait()
    """, "JK302") == [(6, "`time.sleep` in `_wait` (called by job `poll`) holds a worker while "
                         "it waits; use `self.retry(countdown=...)` or enqueue with "
                         "`apply_async(countdown=...)`")]


def test_asyncio_sleep_and_sleep_outside_jobs_are_not_flagged() -> None:
    assert found("""
        import asyncio
        import time
        import dramatiq

        @dramatiq.actor
        async def poll(export_id):
            await asyncio.sleep(5)

        def management_command():
            time.sleep(1)
    """, "JK302") == []


def test_httpx_defaults_kwargs_and_explicit_timeouts_are_not_flagged() -> None:
    assert found("""
        import httpx
        import requests
        import urllib3
        from urllib.request import urlopen
        from celery import shared_task

        pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=10))
        session = requests.Session()
        session.mount("https://", TimeoutAdapter(timeout=5))

        @shared_task
        def sync(url, options):
            httpx.post(url)
            httpx.Client().get(url)
            requests.get(url, **options)
            requests.get(url, timeout=None if options else 5)
            pool.request("GET", url)
            urlopen(url, None, 10)
            session.get(url)
    """, "JK303") == []


def test_explicit_timeout_none_and_unbounded_pools_are_flagged() -> None:
    lines = [line for line, _ in found("""
        import httpx
        import requests
        import urllib3
        from celery import shared_task

        pool = urllib3.PoolManager()

        @shared_task
        def sync(url):
            requests.get(url, timeout=None)
            httpx.get(url, timeout=None)
            pool.urlopen("GET", url)
            urllib3.request("GET", url)
            requests.Session().post(url)
    """, "JK303")]
    assert lines == [11, 12, 13, 14, 15]


def test_batched_loops_are_not_flagged() -> None:
    assert found("""
        from shop.tasks import reindex

        def reindex_all(ids, rows):
            for start in range(0, len(ids), 500):
                reindex.delay(ids[start:start + 500])
            for batch_ids in batched(ids, 100):
                reindex.delay(batch_ids)
            pending = []
            for row in rows:
                pending.append(row.id)
                if len(pending) >= 100:
                    reindex.delay(pending)
                    pending = []
    """, "JK403") == []


def test_loops_over_small_literals_and_canvas_sends_are_not_flagged() -> None:
    assert found("""
        from celery import chord, group
        from shop.tasks import rebuild, report

        REGIONS = ("eu", "us", "ap")

        def rebuild_all(batches):
            for region in REGIONS:
                rebuild.delay(region)
            for _ in range(3):
                rebuild.delay("all")
            for batch in batches:
                group(rebuild.s(x) for x in batch).delay()
                chord(rebuild.s(x) for x in batch)(report.s())
                rebuild.s(batch).apply_async()
    """, "JK403") == []


def test_loops_without_a_bulk_api_and_class_enqueue_methods_are_not_flagged() -> None:
    assert found("""
        import dramatiq
        from app.jobs import ScriptJob

        @dramatiq.actor
        def ping(host):
            pass

        def ping_all(hosts, queue):
            for host in hosts:
                ping.send(host)
                ScriptJob.enqueue(host)
                ping.send_with_options(args=(host,), delay=1000)
    """, "JK403") == []


def test_an_emptied_list_is_not_a_small_literal() -> None:
    assert [line for line, _ in found("""
        from shop.tasks import invite

        def invite_all(emails):
            invitations = []
            invitations = create_invitations(emails)
            for invitation in invitations:
                invite.delay(invitation.id)
    """, "JK403")] == [8]
