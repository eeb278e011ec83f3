"""jobkit web: a dashboard for jobkit's (and Sidekiq's) data in Redis.

``jobkit web`` serves it; :func:`create_app` returns it as an ASGI application to mount under
a path of FastAPI, Starlette or Django (ASGI) apps, and :func:`wsgi_app` as a WSGI one for
Flask or Django (WSGI). Needs the ``web`` extra: ``pip install "jobkit[web]"``.
"""

from __future__ import annotations

from typing import Any

import redis

from ..settings import Settings
from .app import create_app
from .security import AuthCheck, basic_auth

__all__ = ["AuthCheck", "basic_auth", "create_app", "wsgi_app"]


def wsgi_app(
    settings: Settings | None = None,
    *,
    read_only: bool = False,
    auth: AuthCheck | None = None,
    connection: redis.Redis | None = None,
    live_interval: float = 5.0,
) -> Any:
    """:func:`create_app` wrapped as a WSGI application (through a2wsgi), for Flask's
    ``DispatcherMiddleware`` or a Django WSGI project; takes the same arguments."""
    from a2wsgi import ASGIMiddleware

    app = create_app(settings, read_only=read_only, auth=auth, connection=connection,
                     live_interval=live_interval)
    return ASGIMiddleware(app)  # type: ignore[arg-type]
