"""Safe by default: payloads render as text, a strict CSP, no state change on GET, a CSRF
token on every POST, read-only mode, authentication, 404 pages."""

from __future__ import annotations

import base64
import html
import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

import jobkit
from jobkit.api import Admin
from jobkit.errors import ConfigError
from jobkit.keys import Keys
from jobkit.web import basic_auth, create_app
from jobkit.web.security import CSP

from . import web_jobs
from .conftest import XSS, Served, seed


def test_script_in_class_args_and_error_stays_inert_text(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served],
        r: redis.Redis, shoot: Callable[[Any, str], Path]) -> None:
    seed(web_settings)
    keys = Keys(web_settings.namespace)
    evil_class = ('{"class":"<script>document.title=\'pwned\'</script>","args":["' +
                  '<img src=x onerror=alert(1)>"],"jid":"0123456789abcdef01234567",'
                  '"queue":"critical","error_message":"<b onmouseover=alert(1)>x</b>"}')
    r.zadd(keys.retry, {evil_class.encode(): 1_900_000_000})
    web_jobs.SendReceipt.set(queue="<script>q</script>").perform_async(1)
    url = serve(create_app(web_settings)).url
    for path in ("/dead", "/retries", "/queues", "/queues/%3Cscript%3Eq%3C%2Fscript%3E",
                 "/retries?q=%3Cscript%3E", "/jobs/0123456789abcdef01234567"):
        page.goto(url + path)
        assert page.title() != "pwned", path
        assert page.locator("main script, main img, main b[onmouseover]").count() == 0, path
    page.goto(url + "/dead")
    assert XSS in page.locator("table.jobs").inner_text()
    with page.expect_navigation():
        page.locator("tr", has_text="shop.ChargeCard").locator("a").first.click()
    assert json.dumps(XSS) in page.locator("pre.args").inner_text()
    assert XSS in page.locator("td.error").inner_text()
    shoot(page, "xss-inert")
    page.goto(url + "/retries?q=%3Cscript%3E")
    assert page.locator("input[name=q]").input_value() == "<script>"
    assert page.locator("tbody tr").count() == 1
    assert "<script>document.title='pwned'</script>" in page.locator("tbody").inner_text()


def test_every_response_sends_a_strict_content_security_policy(
        web_settings: jobkit.Settings, serve: Callable[[Any], Served]) -> None:
    url = serve(create_app(web_settings)).url
    for path in ("/", "/dead", "/nope", "/static/app.js", "/stats/live"):
        response = httpx.get(url + path)
        assert response.headers["content-security-policy"] == CSP, path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    page = httpx.get(url + "/").text
    assert "<script src=" in page and "<script>" not in page and " style=" not in page


@contextmanager
def _session(url: str) -> Iterator[tuple[httpx.Client, str]]:
    """A client holding the CSRF cookie, and the token the pages put in their forms."""
    with httpx.Client(base_url=url) as client:
        client.get("/queues")
        yield client, client.cookies["jobkit_csrf"]


def test_a_post_without_the_csrf_token_is_refused(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served]) -> None:
    web_jobs.SendReceipt.perform_async(1)
    url = serve(create_app(web_settings)).url
    admin = Admin(web_settings)
    with _session(url) as (client, token):
        _refused_without_token(client, token, url, page, admin)


def _refused_without_token(client: httpx.Client, token: str, url: str, page: Any,
                           admin: Admin) -> None:
    for data in ({}, {"csrf": ""}, {"csrf": "x" * 43}, {"csrf": token + "x"}):
        response = client.post("/queues/mailers/pause", data=data)
        assert response.status_code == 403 and "CSRF" in response.text
    stranger = httpx.post(url + "/queues/mailers/pause", data={"csrf": token})
    assert stranger.status_code == 403  # the token without its cookie
    assert admin.paused_queues() == []
    # In the browser too: a form posted from elsewhere carries no token.
    page.goto(url + "/queues")
    response = page.request.post(url + "/queues/mailers/pause", form={"back": "/queues"})
    assert response.status == 403
    assert admin.paused_queues() == []
    ok = client.post("/queues/mailers/pause", data={"csrf": token})
    assert ok.status_code == 303 and admin.paused_queues() == ["mailers"]


def test_get_never_changes_state(web_settings: jobkit.Settings,
                                 serve: Callable[[Any], Served], r: redis.Redis) -> None:
    seed(web_settings)
    url = serve(create_app(web_settings)).url
    before = sorted(r.scan_iter(match=f"{web_settings.namespace}:*"))
    sizes = {k: r.type(k) for k in before}
    for path in ("/queues/mailers/pause", "/queues/mailers/clear", "/queues/mailers/delete",
                 "/busy/stop", "/busy/quiet", "/dead/actions", "/dead/confirm?action=delete",
                 "/retries/confirm?action=retry", "/periodic/nightly/run"):
        assert httpx.get(url + path).status_code in (200, 404, 405), path
    assert sorted(r.scan_iter(match=f"{web_settings.namespace}:*")) == before
    assert {k: r.type(k) for k in before} == sizes
    assert Admin(web_settings).stats()["dead"] == 2


def test_read_only_hides_every_action_and_refuses_posts(
        web_settings: jobkit.Settings, page: Any, serve: Callable[[Any], Served]) -> None:
    seed(web_settings)
    url = serve(create_app(web_settings, read_only=True)).url
    for path in ("/", "/queues", "/queues/mailers", "/busy", "/retries", "/scheduled",
                 "/dead", "/queues/mailers/clear", "/periodic"):
        page.goto(url + path)
        assert page.locator("form[method=post]").count() == 0, path
        assert page.locator("input[type=checkbox]").count() == 0, path
    page.goto(url + "/dead")
    with page.expect_navigation():
        page.locator("tbody tr a").first.click()
    assert page.locator("button").count() == 1  # only the jid search's "Find"
    with _session(url) as (client, token):
        response = client.post("/queues/mailers/pause", data={"csrf": token})
    assert response.status_code == 403 and "read-only" in response.text
    assert Admin(web_settings).paused_queues() == []


def test_basic_auth_is_required_when_configured(web_settings: jobkit.Settings,
                                                serve: Callable[[Any], Served]) -> None:
    url = serve(create_app(web_settings, auth=basic_auth("ops", "s3cret"))).url
    assert httpx.get(url + "/").status_code == 401
    assert httpx.get(url + "/").headers["www-authenticate"] == 'Basic realm="jobkit"'
    assert httpx.get(url + "/static/app.js").status_code == 401
    assert httpx.get(url + "/", auth=("ops", "wrong")).status_code == 401
    bad = {"authorization": "Basic " + base64.b64encode(b"ops").decode()}
    assert httpx.get(url + "/", headers=bad).status_code == 401
    assert httpx.get(url + "/", headers={"authorization": "Basic !!"}).status_code == 401
    assert httpx.get(url + "/", auth=("ops", "s3cret")).status_code == 200


def test_a_user_callable_decides_who_gets_in(web_settings: jobkit.Settings,
                                             serve: Callable[[Any], Served]) -> None:
    async def staff_only(request: Any) -> bool:
        return request.headers.get("x-staff") == "yes"

    url = serve(create_app(web_settings, auth=staff_only)).url
    assert httpx.get(url + "/").status_code == 401
    assert httpx.get(url + "/", headers={"x-staff": "yes"}).status_code == 200


def test_basic_auth_and_the_live_interval_are_checked() -> None:
    with pytest.raises(ConfigError, match="non-empty username and password"):
        basic_auth("ops", "")
    with pytest.raises(ConfigError, match="live_interval=0 must be a positive number"):
        create_app(jobkit.Settings(redis_url="memory://web-check"), live_interval=0)


def test_unknown_pages_jids_and_jobs_are_404_pages(web_settings: jobkit.Settings,
                                                   serve: Callable[[Any], Served]) -> None:
    url = serve(create_app(web_settings)).url
    for path, text in (("/jobs/0123456789abcdef01234567", "no job with jid"),
                       ("/jobs/not-a-jid", "no job with jid"),
                       ("/queues/nope", "no queue named 'nope'"),
                       ("/dead/1.5-0123456789abcdef0123", "no such job in dead"),
                       ("/dead/garbage", "no such job in dead"),
                       ("/elsewhere", "no page"),
                       ("/jobs?jid=zz%3Cb%3E", "no job with jid 'zz<b>'")):
        response = httpx.get(url + path, follow_redirects=True)
        assert response.status_code == 404, path
        assert text in html.unescape(response.text) and "<h1>404</h1>" in response.text, path
    elsewhere = httpx.get(url + "/jobs?jid=%2F%2Fexample.org")
    assert elsewhere.headers["location"] == "/jobs/%2F%2Fexample.org"  # stays on this site
    bad = httpx.get(url + "/dead?page=zero")
    assert bad.status_code == 400 and "page=&#39;zero&#39; must be a whole number" in bad.text
    assert httpx.get(url + "/dead?per=7").status_code == 400
    assert httpx.get(url + "/?days=8").status_code == 400


def test_an_unreachable_redis_is_a_503_page_without_the_password(
        serve: Callable[[Any], Served]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    settings = jobkit.Settings(redis_url=f"redis://:hunter2@127.0.0.1:{port}/0")
    url = serve(create_app(settings)).url
    response = httpx.get(url + "/dead")
    assert response.status_code == 503
    assert f"cannot reach Redis at redis://***@127.0.0.1:{port}/0" in response.text
    assert "hunter2" not in response.text


def test_the_dashboard_runs_on_the_embedded_fakeredis(serve: Callable[[Any], Served]) -> None:
    url = serve(create_app(jobkit.Settings(redis_url="memory://web-dashboard"))).url
    for path in ("/", "/queues", "/busy", "/dead", "/stats/live"):
        assert httpx.get(url + path).status_code == 200, path
