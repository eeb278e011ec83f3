"""The Periodic page: each entry's schedule, next and last run and that run's outcome, with
pause / resume and run now — the same data and actions as ``jobkit cron``."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import cron_cli
from ..errors import NotFoundError
from .actions import back_to, checked_form
from .board import dashboard_of


def periodic_page(request: Request) -> Response:
    board = dashboard_of(request)
    return board.render(request, "periodic.html", title="Periodic",
                        entries=cron_cli.entries(board.admin))


async def periodic_action(request: Request) -> Response:
    board, form = await checked_form(request)
    name, action = request.path_params["name"], request.path_params["action"]
    if action not in ("pause", "resume", "run"):
        raise HTTPException(404, f"no periodic action {action!r}")

    def run() -> str:
        try:
            if action == "run":
                jid, queue = cron_cli.run_now(board.admin, name)
                return f"enqueued {name} {jid} on queue {queue}"
            changed = cron_cli.set_paused(board.admin, name, action == "pause")
        except NotFoundError as e:
            raise HTTPException(404, str(e)) from None
        verb = "paused" if action == "pause" else "resumed"
        return f"{verb} {name}" + ("" if changed else f" (it was already {verb})")

    return back_to(request, form, "/periodic", await run_in_threadpool(run))


def routes() -> list[Route]:
    return [Route("/periodic", periodic_page),
            Route("/periodic/{name}/{action:str}", periodic_action, methods=["POST"])]
