"""The dashboard's actions: every one is a POST with the visitor's CSRF token, refused in
read-only mode, and answers with a redirect to a page that says what was done (counts).

Moves between sets go through :class:`jobkit.api.Admin`, whose scripts act only on a job
they removed, so two operators (or an operator and a worker) never duplicate a job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..api import JobRecord
from ..replies import integer
from .board import FLASH_COOKIE, SET_ACTIONS, SET_PAGES, Dashboard, dashboard_of
from .entries import Entry
from .security import CSRF_FIELD, csrf_ok

SIGNALS = {"quiet": "TSTP", "stop": "TERM"}
#: Sidekiq's Web UI lets a signal wait a minute for the process to read it.
SIGNAL_TTL = 60
DELETE_BATCH = 500


async def checked_form(request: Request) -> tuple[Dashboard, FormData]:
    """The POSTed form, once read-only mode and the CSRF token allow it."""
    board = dashboard_of(request)
    if board.read_only:
        raise HTTPException(403, "this dashboard is read-only")
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return board, form


def back_to(request: Request, form: FormData, default: str, message: str) -> Response:
    """A redirect to the form's ``back`` page (a local path) or ``default``, carrying
    ``message`` for that page to show once."""
    back = form.get("back")
    path = back if isinstance(back, str) and back.startswith("/") and not back.startswith(
        "//") and "\\" not in back else default
    base = request.scope.get("root_path", "").rstrip("/")
    response = RedirectResponse(f"{base}{path}", status_code=303)
    # In a cookie, not the URL: a link cannot make the dashboard say what it likes.
    response.set_cookie(FLASH_COOKIE, quote(message), max_age=60, path=base or "/",
                        httponly=True, samesite="strict")
    return response


async def queue_action(request: Request) -> Response:
    board, form = await checked_form(request)
    name, action = request.path_params["name"], request.path_params["action"]
    default = f"/queues/{name}"

    def run() -> str:
        if action == "pause":
            done = board.admin.pause_queue(name)
            return f"queue {name!r} paused" if done else f"queue {name!r} was already paused"
        if action == "resume":
            done = board.admin.resume_queue(name)
            return f"queue {name!r} resumed" if done else f"queue {name!r} was not paused"
        if action == "clear":
            if form.get("confirm") != name:
                raise HTTPException(400, f"clearing queue {name!r} needs confirm={name!r}")
            return f"deleted {board.admin.clear_queue(name):,} job(s) from queue {name!r}"
        if action == "delete":
            digest = str(form.get("job", ""))
            try:
                near = max(0, int(str(form.get("near", "0"))))
            except ValueError:
                near = 0
            entry = board.sets.find_in_queue(name, digest, near=near)
            removed = entry is not None and bool(board.redis.lrem(
                board.keys.queue(name), 1, entry.raw))  # type: ignore[arg-type]
            return (f"deleted 1 job from queue {name!r}" if removed
                    else "deleted 0 jobs: that job is no longer in the queue")
        raise HTTPException(404, f"no queue action {action!r}")

    message = await run_in_threadpool(run)
    if action == "clear":
        # A cleared queue leaves the queues set, so its own page would be a 404.
        return back_to(request, FormData(), "/queues", message)
    return back_to(request, form, default, message)


async def signal_action(request: Request) -> Response:
    board, form = await checked_form(request)
    signal = SIGNALS.get(request.path_params["signal"])
    if signal is None:
        raise HTTPException(404, f"no signal {request.path_params['signal']!r}")

    def run() -> str:
        identities = [p.identity for p in board.stats.processes()]
        if form.get("all") != "1":
            wanted = str(form.get("identity", ""))
            if wanted not in identities:
                return f"no live process {wanted!r}"
            identities = [wanted]
        pipe = board.redis.pipeline(transaction=False)
        for identity in identities:
            pipe.lpush(board.keys.signals(identity), signal)
            pipe.expire(board.keys.signals(identity), SIGNAL_TTL)
        pipe.execute()
        verb = request.path_params["signal"]
        return f"sent {verb} to {len(identities)} process(es)"

    return back_to(request, form, "/busy", await run_in_threadpool(run))


async def set_action(request: Request) -> Response:
    board, form = await checked_form(request)
    kind = request.path_params["kind"]
    if kind not in SET_PAGES:
        raise HTTPException(404, f"no page {kind!r}")
    where = SET_PAGES[kind]
    action = str(form.get("action", ""))
    if action not in SET_ACTIONS[where]:
        raise HTTPException(400, f"action={action!r} is not one of "
                                 f"{', '.join(SET_ACTIONS[where])} for {kind}")

    def run() -> str:
        if form.get("all") == "1":
            entries: Iterable[Entry] = list(board.sets.matching(where, str(form.get("q", ""))))
        else:
            keys = [str(k) for k in form.getlist("key")]
            if not keys:
                return "no job selected"
            entries = [e for k in keys if (e := board.sets.find(where, k)) is not None]
        done, skipped = _apply(board, where, action, entries)
        label = SET_ACTIONS[where][action].lower()
        note = f"; {skipped} invalid job(s) can only be deleted" if skipped else ""
        return f"{label}: {done:,} job(s){note}"

    return back_to(request, form, f"/{kind}", await run_in_threadpool(run))


def _apply(board: Dashboard, where: str, action: str, entries: Iterable[Entry]
           ) -> tuple[int, int]:
    """Does ``action`` to each entry; returns (done, skipped because invalid)."""
    admin = board.admin
    if action == "delete":
        key = board.sets.set_key(where)
        raws = [e.raw for e in entries]
        done = 0
        for i in range(0, len(raws), DELETE_BATCH):
            done += integer(board.redis.zrem(key, *raws[i:i + DELETE_BATCH]))
        return done, 0
    act: Callable[[JobRecord], Any] = admin.kill if action == "kill" else admin.retry_now
    done = skipped = 0
    for entry in entries:
        if entry.payload is None:
            skipped += 1
            continue
        done += bool(act(JobRecord(where, entry.raw, entry.payload, entry.score)))
    return done, skipped


def routes() -> list[Route]:
    """The POST routes, matched before the pages' GET routes of the same shape."""
    return [
        Route("/queues/{name:path}/{action:str}", queue_action, methods=["POST"]),
        Route("/busy/{signal:str}", signal_action, methods=["POST"]),
        Route("/{kind:str}/actions", set_action, methods=["POST"]),
    ]
