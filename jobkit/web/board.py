"""The state one dashboard instance shares between its pages: the Redis readers, the
operations API, and the Jinja2 templates (autoescape on) with their filters."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

import jinja2
import redis
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .._version import __version__
from ..api import Admin
from ..keys import Keys
from ..settings import Settings
from .security import CSRF_FIELD, csrf_token
from .sets import SetReader
from .stats import StatsReader

HERE = Path(__file__).parent
#: The sorted sets as the URLs and the navigation name them.
SET_PAGES = {"scheduled": "schedule", "retries": "retry", "dead": "dead"}
#: Carries the one-line result of an action to the page it redirects to.
FLASH_COOKIE = "jobkit_flash"
#: What each set's jobs can have done to them, with the button's label.
SET_ACTIONS: dict[str, dict[str, str]] = {
    "schedule": {"enqueue": "Add to queue", "delete": "Delete", "kill": "Kill"},
    "retry": {"retry": "Retry now", "delete": "Delete", "kill": "Kill"},
    "dead": {"retry": "Retry now", "delete": "Delete"},
}


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(ts: float | None, now: float | None = None) -> str:
    """``3 min ago`` / ``in 2 h``: how far ``ts`` is from now, for a person."""
    if not ts:
        return "-"
    delta = (now if now is not None else time.time()) - ts
    amount = abs(delta)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if amount >= size:
            text = f"{int(amount // size)} {unit}"
            break
    else:
        text = f"{int(amount)} s"
    return f"{text} ago" if delta >= 0 else f"in {text}"


def _duration(seconds: float) -> str:
    return "0 s" if seconds <= 0 else _ago(time.time() - seconds).removesuffix(" ago")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, ago=_ago, duration=_duration,
                       number=lambda n: f"{int(n):,}", tojson_text=lambda v: json.dumps(v))
    return env


class Dashboard:
    """One dashboard over one Redis and namespace: the readers, the admin API, templates."""

    def __init__(self, settings: Settings, *, connection: redis.Redis | None,
                 read_only: bool, live_interval: float) -> None:
        self.settings = settings
        self.keys = Keys(settings.namespace)
        self.admin = Admin(settings, connection=connection)
        self.redis = self.admin.redis
        self.sets = SetReader(self.redis, self.keys)
        self.stats = StatsReader(self.redis, self.keys)
        self.read_only = read_only
        self.live_interval = live_interval
        self.templates = _environment()

    def now(self) -> float:
        return float(self.settings.clock())

    def render(self, request: Request, template: str, *, status: int = 200,
               **context: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/")

        def url(path: str, **query: Any) -> str:
            params = {k: v for k, v in query.items() if v not in (None, "")}
            return f"{base}{path}" + (f"?{urlencode(params)}" if params else "")

        flash = unquote(request.cookies.get(FLASH_COOKIE, ""))
        html = self.templates.get_template(template).render(
            request=request, url=url, base=base, read_only=self.read_only,
            csrf_field=CSRF_FIELD, csrf=csrf_token(request), set_actions=SET_ACTIONS,
            version=__version__, namespace=self.settings.namespace, now=self.now(),
            flash=flash, **context)
        response = HTMLResponse(html, status_code=status)
        if flash:
            response.delete_cookie(FLASH_COOKIE, path=base or "/")
        return response


def dashboard_of(request: Request) -> Dashboard:
    board: Dashboard = request.app.state.dashboard
    return board
