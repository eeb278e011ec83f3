"""jobkit web: a dashboard for jobkit's (and Sidekiq's) data in Redis.

``jobkit web`` serves it; :func:`create_app` returns it as an ASGI application to mount under
a path of FastAPI, Starlette or Django (ASGI) apps, and :func:`wsgi_app` as a WSGI one for
Flask or Django (WSGI). Needs the ``web`` extra: ``pip install "jobkit[web]"``.
"""

from __future__ import annotations

from typing import Any

from .app import create_app
from .security import AuthCheck, basic_auth

__all__ = ["AuthCheck", "basic_auth", "create_app", "wsgi_app"]


def wsgi_app(*args: Any, **kwargs: Any) -> Any:
    """:func:`create_app` wrapped as a WSGI application (through a2wsgi), for Flask's
    ``DispatcherMiddleware`` or a Django WSGI project; takes the same arguments."""
    from a2wsgi import ASGIMiddleware

    return ASGIMiddleware(create_app(*args, **kwargs))  # type: ignore[arg-type]
