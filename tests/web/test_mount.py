"""The dashboard mounted under a path of FastAPI, Django (ASGI routing) and Flask (WSGI,
through jobkit.web.wsgi_app): pages, static files, links and a CSRF-checked POST all work
under the prefix, next to the host application's own routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

import jobkit
from jobkit.api import Admin
from jobkit.web import create_app, wsgi_app

from . import web_jobs
from .conftest import Served


def _text(response: Any) -> str:
    """The body of an httpx or a Flask test-client response."""
    return str(response.text if hasattr(response, "text") else response.get_data(as_text=True))


def _check_mounted(get: Callable[[str], Any], post: Callable[[str, dict[str, str]], Any],
                   settings: jobkit.Settings) -> None:
    """Through the host's client: read pages under /jobs, then pause a queue by POST."""
    web_jobs.SendReceipt.perform_async(1)
    page = get("/jobs/queues")
    assert page.status_code == 200
    text = _text(page)
    assert 'href="/jobs/static/style.css"' in text and 'href="/jobs/queues/mailers"' in text
    assert 'action="/jobs/queues/mailers/pause"' in text
    assert get("/jobs/static/app.js").status_code == 200
    assert get("/jobs/stats/live").status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', text)
    assert token is not None
    response = post("/jobs/queues/mailers/pause", {"csrf": token.group(1), "back": "/queues"})
    assert response.status_code == 303
    assert response.headers["location"] == "/jobs/queues"
    after = _text(get("/jobs/queues"))
    assert "queue &#39;mailers&#39; paused" in after  # the flash, from its cookie
    assert Admin(settings).paused_queues() == ["mailers"]
    refused = post("/jobs/queues/mailers/resume", {"back": "/queues"})
    assert refused.status_code == 403


def test_mounted_in_fastapi(web_settings: jobkit.Settings,
                            serve: Callable[[Any], Served]) -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    app.mount("/jobs", create_app(web_settings))
    url = serve(app).url
    with httpx.Client(base_url=url) as client:
        assert client.get("/hello").json() == {"hello": "world"}
        _check_mounted(client.get, lambda path, data: client.post(path, data=data),
                       web_settings)
        assert client.cookies.jar and next(iter(client.cookies.jar)).path == "/jobs"


def test_mounted_in_django_through_asgi_routing(web_settings: jobkit.Settings,
                                                serve: Callable[[Any], Served]) -> None:
    from . import django_site

    url = serve(django_site.application(create_app(web_settings))).url
    with httpx.Client(base_url=url) as client:
        assert client.get("/hello/").text == "hello from django"
        _check_mounted(client.get, lambda path, data: client.post(path, data=data),
                       web_settings)


def test_mounted_in_flask_through_wsgi(web_settings: jobkit.Settings) -> None:
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    app = Flask(__name__)

    @app.get("/hello")
    def hello() -> str:
        return "hello from flask"

    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, {"/jobs": wsgi_app(web_settings)})
    client = app.test_client()
    assert client.get("/hello").get_data(as_text=True) == "hello from flask"
    _check_mounted(client.get, lambda path, data: client.post(path, data=data), web_settings)
