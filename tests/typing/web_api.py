"""Type-check-only use of jobkit.web's public API (run by tests/runtime/test_packaging.py's
mypy --strict check alongside public_api.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

import jobkit
import jobkit.web
from jobkit.api import Admin


async def is_staff(request: Request) -> bool:
    return request.headers.get("x-staff") == "yes"


def use() -> None:
    settings = jobkit.Settings(redis_url="memory://typing-web")
    asgi: Any = jobkit.web.create_app(settings, read_only=True, live_interval=2.5,
                                      auth=jobkit.web.basic_auth("ops", "secret"))
    wsgi: Any = jobkit.web.wsgi_app(settings, auth=is_staff)
    check: jobkit.web.AuthCheck = is_staff
    paused: bool = Admin(settings).pause_queue("mailers")
    resumed: bool = Admin(settings).resume_queue("mailers")
    names: list[str] = Admin(settings).paused_queues()
    print(asgi, wsgi, check, paused, resumed, names)
