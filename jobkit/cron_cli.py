"""``jobkit cron``: list periodic entries, pause and resume them, run one now.

Entries are read from Redis, where every worker publishes the ones it ticks, so the command
needs no import of the application (``-r MODULE`` adds entries defined there).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, TextIO

from . import ops
from .errors import NotFoundError


def _definitions(admin: Any) -> dict[str, dict[str, Any]]:
    from . import periodic_entries as periodic

    found = {(k.decode() if isinstance(k, bytes) else k): json.loads(v)
             for k, v in admin.redis.hgetall(admin.keys.cron_entries).items()}
    for name, entry in periodic.entries().items():
        # Defined in a -r module: listed, with the time workers last published it, if any.
        found.setdefault(name, entry.describe())
    return found


def _entry(admin: Any, name: str) -> dict[str, Any]:
    known = _definitions(admin)
    if name not in known:
        names = ", ".join(sorted(known)) or "none (no worker has published any; pass -r MODULE)"
        raise NotFoundError(f"no periodic entry named {name!r}; entries: {names}")
    return known[name]


def entries(admin: Any) -> list[dict[str, Any]]:
    """Each entry with its schedule, next run, last run and that run's outcome."""
    from .cron import build_schedule
    from .ticker import STALE_AFTER

    known = _definitions(admin)
    paused = {m.decode() for m in admin.redis.smembers(admin.keys.cron_paused)}
    now = admin.settings.clock()
    out = []
    for name in sorted(known):
        d = known[name]
        schedule = build_schedule(cron=d.get("cron"), tz=d.get("zone") or "UTC",
                                  every=d.get("every"), owner=name)
        state = {(k.decode()): v.decode() for k, v in
                 admin.redis.hgetall(admin.keys.cron_entry(name)).items()}
        last_tick = int(state["last_tick"]) / 1000 if "last_tick" in state else None
        outcome = state.get("last_result")
        if state.get("last_jid"):
            outcome = admin.status(state["last_jid"]).state
            # Gone from every queue, set and in-progress list: it ran and finished.
            outcome = "done" if outcome == "not_found" else outcome
        published = d.get("published_at")
        # Not republished for long: removed from the code, or no worker runs it.
        stale = published is None or now - float(published) > STALE_AFTER
        out.append({"name": name, "class": d.get("class"), "schedule": schedule.describe(),
                    "zone": schedule.zone if schedule.cron else None,
                    "next_run": schedule.next_after(now), "last_run": last_tick,
                    "last_jid": state.get("last_jid") or None, "outcome": outcome,
                    "paused": name in paused, "catch_up": d.get("catch_up"),
                    "published_at": published, "stale": stale})
    return out


def cmd_list(args: argparse.Namespace) -> int:
    rows = entries(ops._admin(args))
    return ops._emit(args, rows, lambda out: _render(rows, out))


def _render(rows: list[dict[str, Any]], out: TextIO) -> None:
    if not rows:
        out.write("no periodic entries (none published by a worker; pass -r MODULE)\n")
        return
    ops._table([(r["name"] + (" (paused)" if r["paused"] else "")
                 + (" (no worker ticks it)" if r["stale"] else ""), r["schedule"],
                 r["zone"] or "-", ops._when(r["next_run"]), ops._when(r["last_run"]),
                 r["outcome"] or "-") for r in rows],
               ("name", "schedule", "zone", "next run (UTC)", "last run (UTC)", "outcome"), out)


def set_paused(admin: Any, name: str, paused: bool) -> bool:
    """Pause or resume entry ``name`` (every process honours it at its next tick); False if
    it already was. :class:`NotFoundError` for an unknown entry."""
    _entry(admin, name)
    key = admin.keys.cron_paused
    return bool(admin.redis.sadd(key, name) if paused else admin.redis.srem(key, name))


def _pause(paused: bool) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        admin = ops._admin(args)
        changed = set_paused(admin, args.name, paused)
        verb = "paused" if paused else "resumed"
        note = "" if changed else f" (it was already {verb})"
        return ops._emit(args, {"name": args.name, "paused": paused, "changed": bool(changed)},
                         lambda out: out.write(f"{verb} {args.name}{note}\n"))
    return run


def run_now(admin: Any, name: str) -> tuple[str | None, str]:
    """Enqueue entry ``name``'s job now (not a tick); returns (jid, queue)."""
    from . import payload as pl
    from . import periodic_entries as periodic
    from .client import Client
    from .registry import lookup

    d = _entry(admin, name)
    client = Client(admin.settings, connection=admin.redis)
    now = client.settings.clock()
    job = lookup(d["class"])
    if job is not None:
        payload = client.build(job, d["args"], job.options(), now=now)
    else:
        # The class is not importable here: Sidekiq's defaults, as `jobkit enqueue` does.
        payload = pl.build(d["class"], d["args"], queue=d["queue"], retry=True, now=now)
    payload[periodic.NAME_FIELD] = name
    payload[periodic.TICK_FIELD] = now
    jid = client.push(payload, now=now)
    # Recorded after the push: a crash in between only leaves the listing one run behind.
    admin.redis.hset(admin.keys.cron_entry(name),
                     mapping={"last_jid": jid or "", "last_result": "run by hand"})
    return jid, str(payload["queue"])


def cmd_run(args: argparse.Namespace) -> int:
    jid, queue = run_now(ops._admin(args), args.name)
    return ops._emit(args, {"name": args.name, "jid": jid, "queue": queue},
                     lambda out: out.write(f"enqueued {args.name} {jid} on queue {queue}\n"))


def add_commands(
    sub: Any,
    add_redis_options: Callable[[argparse.ArgumentParser], None],
    make_parser: Callable[..., argparse.ArgumentParser],
) -> None:
    """Register ``jobkit cron`` and its actions."""
    p = make_parser(
        sub, "cron", "periodic jobs: list, pause, resume, run now",
        "List periodic entries with their schedule, zone, next and last run (UTC) and that\n"
        "run's outcome; pause or resume one (stored in Redis: every worker honours it at its\n"
        "next tick); run one now. Entries are those the workers published in Redis, plus any\n"
        "defined in -r modules.",
        "examples:\n  jobkit cron\n  jobkit cron pause nightly-report\n"
        "  jobkit cron resume nightly-report\n  jobkit cron run nightly-report --json")
    verbs = p.add_subparsers(dest="cron_command", metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        add_redis_options(q)
        q.add_argument("--json", action="store_true", help="print JSON for scripts")
        q.add_argument("-r", "--require", action="append", default=[], metavar="MODULE",
                       help="import this module first, to list the entries it defines")

    common(p)
    p.set_defaults(func=cmd_list)
    for verb, func, text in (("list", cmd_list, "list the entries (the default)"),
                             ("pause", _pause(True), "skip an entry's ticks until resumed"),
                             ("resume", _pause(False), "tick a paused entry again"),
                             ("run", cmd_run, "enqueue an entry's job now (not a tick)")):
        q = make_parser(verbs, verb, text, text + ".",
                        f"example:\n  jobkit cron {verb}{'' if verb == 'list' else ' NAME'}")
        common(q)
        if verb != "list":
            q.add_argument("name", help="the entry's name, as jobkit cron lists it")
        q.set_defaults(func=func)
