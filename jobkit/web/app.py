"""The dashboard's ASGI application: its routes, error pages and middleware.

Built on Starlette and Jinja2. Page handlers are plain functions: Starlette runs them on its
thread pool, where they use jobkit's own (synchronous) Redis code.
"""

from __future__ import annotations

import redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import ConfigError
from ..settings import Settings
from . import actions, periodic, views
from .board import HERE, Dashboard, dashboard_of
from .security import AuthCheck, Guard


def _error_page(request: Request, exc: Exception) -> Response:
    """The 400, 403, 404 and 405 pages, in the dashboard's layout with the reason."""
    board = dashboard_of(request)
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return board.render(request, "error.html", status=status, title=f"{status}",
                        message=detail)


def _redis_down(request: Request, exc: Exception) -> Response:
    board = dashboard_of(request)
    return board.render(request, "error.html", status=503, title="Redis unavailable",
                        message=f"cannot reach Redis at {_safe_url(board.settings.redis_url)}: "
                                f"{exc}")


def _safe_url(url: str) -> str:
    """``url`` without its password, for an error page."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def create_app(
    settings: Settings | None = None,
    *,
    read_only: bool = False,
    auth: AuthCheck | None = None,
    connection: redis.Redis | None = None,
    live_interval: float = 5.0,
) -> Guard:
    """The dashboard as an ASGI application, to serve or to mount under a path.

    ``settings`` default to jobkit's configured ones (``JOBKIT_REDIS_URL``, …). ``auth`` is
    called with each Starlette ``Request`` and must return True to let it in (see
    :func:`jobkit.web.basic_auth`); ``read_only`` hides every action and refuses every POST.
    """
    from ..config import get_settings

    if live_interval <= 0:
        raise ConfigError(f"live_interval={live_interval!r} must be a positive number of seconds")
    board = Dashboard(settings or get_settings(), connection=connection, read_only=read_only,
                      live_interval=live_interval)
    routes = [
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        *actions.routes(),
        *periodic.routes(),
        Route("/", views.dashboard),
        Route("/stats/live", views.live),
        Route("/queues", views.queues),
        # Queue names may hold a "/": the path converter takes them whole.
        Route("/queues/{name:path}/clear", views.confirm_clear),
        Route("/queues/{name:path}", views.queue),
        Route("/busy", views.busy),
        Route("/jobs", views.job_lookup),
        Route("/jobs/{jid}", views.job_by_jid),
        Route("/{kind:str}", views.job_set),
        Route("/{kind:str}/confirm", views.confirm_bulk),
        Route("/{kind:str}/{key:str}", views.set_entry),
    ]
    app = Starlette(routes=routes, exception_handlers={
        404: _error_page, 405: _error_page, 403: _error_page, 400: _error_page,
        redis.ConnectionError: _redis_down, redis.TimeoutError: _redis_down})
    app.state.dashboard = board
    return Guard(app, auth=auth)
