"""Operations commands of the ``jobkit`` CLI: stats, queues, retries, dead, retry, kill,
delete, clear, enqueue. Each prints a table, or JSON with ``--json``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .errors import ArgumentError, NotFoundError


def _admin(args: argparse.Namespace) -> Any:
    from .api import Admin
    from .config import get_settings

    overrides = {k: v for k, v in (("redis_url", args.redis_url),
                                    ("namespace", args.namespace)) if v is not None}
    return Admin(get_settings().replace(**overrides))


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _short(value: Any, width: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str], out: TextIO) -> None:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _error(error_class: str | None, message: str | None, width: int = 60) -> str:
    """The error's useful part: the class's own name (not its module path) and the message's
    first line, cut at the end."""
    name = (error_class or "").replace("::", ".").rpartition(".")[2]
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return _short(f"{name}: {first}" if name and first else name or first or "-", width)


def _emit(args: argparse.Namespace, data: Any, render: Callable[[TextIO], object]) -> int:
    if args.json:
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        render(sys.stdout)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    s = _admin(args).stats()

    def render(out: TextIO) -> None:
        out.write(f"processed {s['processed']}  failed {s['failed']}  enqueued {s['enqueued']}  "
                  f"scheduled {s['scheduled']}  retries {s['retries']}  dead {s['dead']}  "
                  f"processes {s['processes']}  busy {s['busy']}  "
                  f"in progress {s['in_progress']}\n")
        for held in s["unrecovered"]:
            out.write(_unrecovered(held) + "\n")
        if s["queues"]:
            _table([(q["name"], q["size"], f"{q['latency']:.1f}s") for q in s["queues"]],
                   ("queue", "size", "latency"), out)

    return _emit(args, s, render)


def _unrecovered(held: dict[str, Any]) -> str:
    from .status import Holder

    return Holder(**held).describe()


def cmd_queues(args: argparse.Namespace) -> int:
    queues = _admin(args).queues()
    return _emit(args, queues, lambda out: _table(
        [(q["name"], q["size"], f"{q['latency']:.1f}s", "paused" if q["paused"] else "-")
         for q in queues],
        ("queue", "size", "latency", "state"), out))


def _list(where: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if args.limit < 1:
            raise ArgumentError(f"--limit={args.limit} must be at least 1")
        records = [r.summary() for r in _admin(args).entries(where, limit=args.limit)]
        label = "died (UTC)" if where == "dead" else "next run (UTC)"
        return _emit(args, records, lambda out: _table(
            [(r["jid"], r["class"], _short(r["args"], 30), r["queue"], _when(r["at"]),
              r["retry_count"] if r["retry_count"] is not None else "-",
              _error(r["error_class"], r["error_message"]))
             for r in records],
            ("jid", "class", "args", "queue", label, "retries", "error"), out))
    return run


def cmd_retry(args: argparse.Namespace) -> int:
    if args.all:
        where = "dead" if args.dead else "retry"
        moved = _admin(args).retry_all(where)
        return _emit(args, {"retried": moved, "from": where},
                     lambda out: out.write(f"retried {moved} job(s) from {where}\n"))
    if not args.jid:
        raise ArgumentError("jobkit retry needs a JID or --all")
    return _one_job(args, "retried", ("retry", "dead", "schedule"),
                    lambda admin, record: admin.retry_now(record),
                    lambda record: f"to queue {record.payload.get('queue')}")


def cmd_kill(args: argparse.Namespace) -> int:
    return _one_job(args, "killed", ("retry", "schedule"),
                    lambda admin, record: admin.kill(record), lambda record: "to dead")


def cmd_delete(args: argparse.Namespace) -> int:
    return _one_job(args, "deleted", ("schedule", "retry", "dead"),
                    lambda admin, record: admin.delete(record), lambda record: "")


def _one_job(
    args: argparse.Namespace,
    verb: str,
    where: tuple[str, ...],
    act: Callable[[Any, Any], bool],
    destination: Callable[[Any], str],
) -> int:
    """Find ``args.jid`` in ``where``, act on it, and say what happened with a count."""
    admin = _admin(args)
    record = admin.find(args.jid, where=where)
    done = int(act(admin, record))
    to = destination(record)
    return _emit(args, {verb: done, "jid": record.jid, "from": record.where},
                 lambda out: out.write(f"{verb} {done} job ({record.jid} from {record.where}"
                                       f"{' ' + to if to else ''})\n"))


def cmd_clear(args: argparse.Namespace) -> int:
    admin = _admin(args)
    target = f"the {args.set} set" if args.set else f"queue {args.queue!r}"
    if not args.set and not args.queue:
        raise ArgumentError("jobkit clear needs a QUEUE or --set schedule|retry|dead")
    if not args.set and args.queue not in admin.queue_names():
        known = ", ".join(admin.queue_names()) or "none"
        raise NotFoundError(f"queue {args.queue!r} does not exist (queues: {known})")
    if not args.yes:
        if not sys.stdin.isatty():
            raise ArgumentError(f"refusing to clear {target} without confirmation; pass --yes")
        answer = input(f"Delete every job in {target}? Type 'yes': ")
        if answer.strip().lower() != "yes":
            sys.stdout.write("nothing deleted\n")
            return 1
    count = admin.clear_set(args.set) if args.set else admin.clear_queue(args.queue)
    return _emit(args, {"deleted": count, "target": args.set or args.queue},
                 lambda out: out.write(f"deleted {count} job(s) from {target}\n"))


def cmd_enqueue(args: argparse.Namespace) -> int:
    from . import payload as pl
    from .client import Client
    from .config import get_settings
    from .registry import lookup

    try:
        job_args = json.loads(args.args_json)
    except ValueError as e:
        raise ArgumentError(f"ARGS_JSON={args.args_json!r} is not JSON: {e}") from None
    if not isinstance(job_args, list):
        raise ArgumentError(f"ARGS_JSON={args.args_json!r} must be a JSON array, e.g. '[42]'")
    overrides = {k: v for k, v in (("redis_url", args.redis_url),
                                    ("namespace", args.namespace)) if v is not None}
    client = Client(get_settings().replace(**overrides))
    job = lookup(args.name)
    if job is None and args.strict:
        raise NotFoundError(f"NAME={args.name!r} is not a registered job"
                            f"{' (load its module with -r MODULE)' if not args.require else ''}"
                            "; --strict refuses to enqueue what it cannot check")
    if job is None:
        sys.stderr.write(
            f"jobkit: warning: {args.name!r} is not a job registered in this process "
            f"{'(-r MODULE loads it)' if not args.require else '(not defined by -r)'}: its "
            "options and argument checks were not applied; enqueued with Sidekiq's defaults "
            "(retry: true, 25 attempts)\n")
    if job is not None:
        options = job.options()
        if args.queue:
            options = options.with_overrides(job.name, {"queue": args.queue})
        payload = client.build(job, job_args, options, now=client.settings.clock())
    else:
        from .options import check_queue

        queue = check_queue(args.queue or "default", "jobkit enqueue")
        payload = pl.build(args.name, pl.check_args(job_args), queue=queue, retry=True,
                           now=client.settings.clock())
    at = client.settings.clock() + args.in_ if args.in_ else None
    jid = client.push(payload, at=at)
    return _emit(args, {"jid": jid, "class": args.name, "queue": payload["queue"]},
                 lambda out: out.write(f"enqueued {args.name} {jid} on queue "
                                       f"{payload['queue']}\n"))


def add_commands(
    sub: Any,
    add_redis_options: Callable[[argparse.ArgumentParser], None],
    make_parser: Callable[..., argparse.ArgumentParser],
) -> None:
    """Register the operations subcommands on the ``jobkit`` parser."""

    def command(name: str, summary: str, func: Callable[[argparse.Namespace], int],
                description: str = "", examples: Sequence[str] = ()) -> argparse.ArgumentParser:
        epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples) if examples else ""
        p = make_parser(sub, name, summary, description, epilog)
        add_redis_options(p)
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(func=func)
        return p

    command("stats", "processed/failed totals, queue sizes and latency, set sizes, processes",
            cmd_stats, examples=["jobkit stats", "jobkit stats --json | jq .dead"])
    command("queues", "queues with their size and latency", cmd_queues,
            "Each queue's size and latency: the age of its oldest waiting job.",
            ["jobkit queues"])
    for name, where in (("retries", "retry"), ("dead", "dead"), ("scheduled", "schedule")):
        p = command(name, f"list jobs in the {where} set", _list(where),
                    f"The jobs in the {where} set, "
                    f"{'newest first' if where == 'dead' else 'soonest first'} (times in UTC).",
                    [f"jobkit {name}", f"jobkit {name} --limit 500 --json"])
        p.add_argument("--limit", type=int, default=50, metavar="N",
                       help="at most this many (default 50)")
    jid_help = "the job's id (jid), as listed by jobkit retries / dead / scheduled"
    p = command("retry", "push a retry/dead/scheduled job onto its queue now", cmd_retry,
                "Push a job from the retry, dead or schedule set onto its queue now, keeping "
                "its jid\n(Sidekiq's \"Retry now\"); --all does it for the whole retry set.",
                ["jobkit retry 2b9f0c1d8e7a6b5c4d3e2f1a", "jobkit retry --all",
                 "jobkit retry --all --dead"])
    p.add_argument("jid", nargs="?", help=jid_help)
    p.add_argument("--all", action="store_true", help="every job in the retry set")
    p.add_argument("--dead", action="store_true", help="with --all: the dead set instead")
    p = command("kill", "move a retry or scheduled job to the dead set", cmd_kill,
                examples=["jobkit kill 2b9f0c1d8e7a6b5c4d3e2f1a"])
    p.add_argument("jid", help=jid_help)
    p = command("delete", "delete a job from the schedule, retry or dead set", cmd_delete,
                examples=["jobkit delete 2b9f0c1d8e7a6b5c4d3e2f1a"])
    p.add_argument("jid", help=jid_help)
    p = command("clear", "delete every job in a queue (or a set with --set)", cmd_clear,
                "Delete every job waiting in QUEUE, or every job of a set. Asks first, unless "
                "--yes;\nwithout a terminal to ask on, refuses.",
                ["jobkit clear low", "jobkit clear --set dead --yes"])
    p.add_argument("queue", nargs="?", metavar="QUEUE", help="the queue to empty")
    p.add_argument("--set", choices=["schedule", "retry", "dead"],
                   help="empty this sorted set instead of a queue")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = command("enqueue", "enqueue a job by name with a JSON array of arguments", cmd_enqueue,
                "Enqueue a job by name. With -r the job's class is loaded, so its options "
                "(queue,\nretry, …) and argument checks apply; without it jobkit cannot "
                "check anything and\nwrites Sidekiq's defaults (it says so; --strict "
                "refuses instead).",
                ["jobkit enqueue -r myapp.jobs myapp.jobs.SyncJob '[42]'",
                 "jobkit enqueue -r myapp.jobs myapp.jobs.ReportJob '[]' --in 3600",
                 "jobkit enqueue HardWorker '[1, \"a\"]' --queue critical   # a Ruby class"])
    p.add_argument("name", metavar="NAME", help="registered job name (or any Sidekiq class name)")
    p.add_argument("args_json", metavar="ARGS_JSON", help="JSON array, e.g. '[42]'")
    p.add_argument("--queue", metavar="QUEUE", help="queue (default: the job's, or 'default')")
    p.add_argument("--in", dest="in_", type=float, metavar="SECONDS",
                   help="run after this many seconds")
    p.add_argument("-r", "--require", action="append", default=[], metavar="MODULE",
                   help="import this module first, so the job's own options apply")
    p.add_argument("--strict", action="store_true",
                   help="refuse a NAME that is not a job registered by -r")
