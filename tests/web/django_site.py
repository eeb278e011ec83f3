"""A one-file Django project for the mount test: one view, and an ASGI application that
routes /jobs to the dashboard and everything else to Django (as a project's asgi.py would)."""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello from django")


urlpatterns = [path("hello/", hello)]


def application(dashboard: Any) -> Any:
    """Django's ASGI app with the dashboard mounted at /jobs."""
    if not settings.configured:
        settings.configure(DEBUG=False, ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"],
                           SECRET_KEY="jobkit-test-only", MIDDLEWARE=[], INSTALLED_APPS=[],
                           USE_TZ=True)
        django.setup()
    from django.core.asgi import get_asgi_application
    from starlette.routing import Mount, Router

    return Router(routes=[Mount("/jobs", app=dashboard), Mount("/", app=get_asgi_application())])
