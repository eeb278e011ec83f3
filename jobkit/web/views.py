"""The dashboard's pages (GET only: nothing here changes state)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..replies import integer
from .board import SET_ACTIONS, SET_PAGES, dashboard_of
from .charts import history_chart
from .jobstatus import job_status
from .sets import PER_PAGE
from .stats import HISTORY_DAYS


def _int_param(request: Request, name: str, default: int, *, choices: tuple[int, ...] = ()
               ) -> int:
    text = request.query_params.get(name, "")
    try:
        value = int(text) if text else default
    except ValueError:
        raise HTTPException(400, f"{name}={text!r} must be a whole number") from None
    if value < 1 or (choices and value not in choices):
        allowed = ", ".join(map(str, choices)) if choices else "1 or more"
        raise HTTPException(400, f"{name}={value} must be {allowed}")
    return value


def dashboard(request: Request) -> Response:
    board = dashboard_of(request)
    days = _int_param(request, "days", 30, choices=HISTORY_DAYS)
    now = board.now()
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    history = board.stats.history(today, days)
    return board.render(request, "dashboard.html", title="Dashboard",
                        live=board.stats.live(now), days=days, day_choices=HISTORY_DAYS,
                        chart=history_chart(history), history=history,
                        redis_info=board.stats.redis_info(),
                        live_interval_ms=int(board.live_interval * 1000))


def live(request: Request) -> Response:
    board = dashboard_of(request)
    return JSONResponse(board.stats.live(board.now()))


def queues(request: Request) -> Response:
    board = dashboard_of(request)
    return board.render(request, "queues.html", title="Queues", queues=board.admin.queues())


def queue(request: Request) -> Response:
    board = dashboard_of(request)
    name = request.path_params["name"]
    known = {q["name"]: q for q in board.admin.queues()}
    if name not in known:
        raise HTTPException(404, f"no queue named {name!r}")
    page = board.sets.queue_page(name, page=_int_param(request, "page", 1),
                                 per_page=_int_param(request, "per", 25, choices=PER_PAGE))
    return board.render(request, "queue.html", title=f"Queue {name}", queue=known[name],
                        page=page, per_choices=PER_PAGE)


def confirm_clear(request: Request) -> Response:
    board = dashboard_of(request)
    name = request.path_params["name"]
    size = next((q["size"] for q in board.admin.queues() if q["name"] == name), None)
    if size is None:
        raise HTTPException(404, f"no queue named {name!r}")
    return board.render(request, "confirm.html", title=f"Clear queue {name}",
                        question=f"Delete all {size:,} job(s) waiting in queue {name!r}?",
                        action=f"/queues/{name}/clear", fields=[("confirm", name)],
                        button=f"Yes, delete {size:,} job(s)", back=f"/queues/{name}")


def busy(request: Request) -> Response:
    board = dashboard_of(request)
    processes = board.stats.processes()
    return board.render(request, "busy.html", title="Busy", processes=processes,
                        threads=sum(p.concurrency for p in processes),
                        busy=sum(p.busy for p in processes))


def _set_kind(request: Request) -> tuple[str, str]:
    kind = request.path_params["kind"]
    if kind not in SET_PAGES:
        raise HTTPException(404, f"no page {request.url.path!r}")
    return kind, SET_PAGES[kind]


def job_set(request: Request) -> Response:
    board = dashboard_of(request)
    kind, where = _set_kind(request)
    newest = request.query_params.get("order", "newest") != "oldest"
    page = board.sets.page(where, page=_int_param(request, "page", 1),
                           per_page=_int_param(request, "per", 25, choices=PER_PAGE),
                           newest_first=newest if where == "dead" else not newest,
                           query=request.query_params.get("q", "").strip())
    return board.render(request, "set.html", title=kind.capitalize(), kind=kind, where=where,
                        page=page, newest=newest, per_choices=PER_PAGE)


def confirm_bulk(request: Request) -> Response:
    """Asks before an action on every job of a set (or every one matching a search)."""
    board = dashboard_of(request)
    kind, where = _set_kind(request)
    action = request.query_params.get("action", "")
    if action not in SET_ACTIONS[where]:
        raise HTTPException(400, f"action={action!r} is not one of "
                                 f"{', '.join(SET_ACTIONS[where])} for {kind}")
    query = request.query_params.get("q", "").strip()
    count = (sum(1 for _ in board.sets.matching(where, query)) if query
             else integer(board.redis.zcard(board.sets.set_key(where))))
    label = SET_ACTIONS[where][action]
    what = f"all {count:,} {kind} job(s)" + (f" matching {query!r}" if query else "")
    return board.render(request, "confirm.html", title=f"{label}: {kind}",
                        question=f"{label} {what}?", action=f"/{kind}/actions",
                        fields=[("action", action), ("all", "1"), ("q", query)],
                        button=f"Yes, {label.lower()} {count:,} job(s)",
                        back=f"/{kind}" + (f"?{urlencode({'q': query})}" if query else ""))


def set_entry(request: Request) -> Response:
    board = dashboard_of(request)
    kind, where = _set_kind(request)
    entry = board.sets.find(where, request.path_params["key"])
    if entry is None:
        raise HTTPException(404, f"no such job in {kind} (retried, deleted or moved since)")
    title = {"scheduled": "Scheduled job", "retries": "Retry", "dead": "Dead job"}[kind]
    return board.render(request, "job.html", title=title, kind=kind,
                        where=where, entry=entry)


def job_lookup(request: Request) -> Response:
    jid = request.query_params.get("jid", "").strip()
    if not jid:
        raise HTTPException(400, "give a jid to look up")
    base = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{base}/jobs/{quote(jid, safe='')}", status_code=303)


def job_by_jid(request: Request) -> Response:
    board = dashboard_of(request)
    found = job_status(board.redis, board.settings, request.path_params["jid"])
    if found is None:
        raise HTTPException(404, f"no job with jid {request.path_params['jid']!r}: finished, "
                                 "deleted, or never enqueued here")
    return board.render(request, "jid.html", title=f"Job {found.status.jid}", found=found)
