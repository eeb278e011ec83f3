"""``jobkit outbox create-table | relay | status`` and ``jobkit worker --outbox-url``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from .errors import ConfigError

log = logging.getLogger("jobkit.outbox")


def _database_url(args: argparse.Namespace) -> str:
    url: str | None = args.database_url or os.environ.get("JOBKIT_OUTBOX_URL")
    if not url:
        raise ConfigError("--database-url is required (or set $JOBKIT_OUTBOX_URL), e.g. "
                          "postgresql://user@localhost/app")
    return url


def _relay(url: str, args: argparse.Namespace) -> Any:
    from .client import Client
    from .config import configure_for_command
    from .outbox.relay import Relay

    # Settings read after the app's modules ran their jobkit.configure(): the relay's client
    # runs the app's client middleware after_push for each job it pushes.
    settings = configure_for_command(redis_url=getattr(args, "redis_url", None),
                                     namespace=getattr(args, "namespace", None))
    return Relay(url, Client(settings), batch_size=args.batch_size,
                 poll_interval=args.poll_interval)


def cmd_create_table(args: argparse.Namespace) -> int:
    from .outbox.relay import create_table

    url = _database_url(args)
    create_table(url)
    print(f"jobkit_outbox is ready in {_shown(url)}")
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    if not args.log_level:
        # Other commands default to ERROR; a relay's warnings (Redis away) must show.
        logging.getLogger("jobkit").setLevel(logging.INFO)
    url = _database_url(args)
    _import_app(args.require, jobs_expected=False)
    relay = _relay(url, args)
    done = threading.Event()

    def stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    relay.start()
    log.info("outbox relay started: %s -> %s", relay.database, relay.client.settings.redis_url)
    done.wait()
    relay.stop()
    log.info("outbox relay stopped: %d job(s) relayed in %d batch(es)", relay.relayed,
             relay.batches)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .outbox.relay import status

    found = status(_database_url(args))
    if args.json:
        print(json.dumps(found))
    elif found["waiting"]:
        print(f"{found['waiting']} job(s) waiting; oldest {found['oldest_age']:.1f} s old")
    else:
        print("0 jobs waiting")
    return 0


def _shown(url: str) -> str:
    from .outbox.database import Database

    return str(Database.from_url(url))


def _import_app(specs: list[str], *, jobs_expected: bool) -> None:
    """Import the ``-r`` modules (the worker's checks and logs when it runs jobs)."""
    from .require import require, require_all

    sys.path.insert(0, os.getcwd())
    if jobs_expected:
        require_all(specs)
        return
    for spec in specs:
        # A relay runs no jobs: a module that only configures jobkit is what it needs.
        require(spec)
        log.info("-r %s imported", spec)


def _relay_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument(f"--{prefix}batch-size", dest="batch_size", type=int, default=1000,
                   help="outbox rows per transaction and Redis MULTI (default: 1000)")
    p.add_argument(f"--{prefix}poll-interval", dest="poll_interval", type=float, default=0.5,
                   help="seconds between outbox polls when idle (PostgreSQL wakes on "
                        "NOTIFY; default: 0.5)")


def _with_relay(run_worker: Callable[[argparse.Namespace], int]) -> Callable[
    [argparse.Namespace], int
]:
    """``jobkit worker --outbox-url URL``: the worker process also runs a relay thread."""

    def run(args: argparse.Namespace) -> int:
        # With --processes the supervisor only forks; each child runs its own relay.
        if not args.outbox_url or args.processes > 1:
            return run_worker(args)
        # The -r modules first, as the worker would import them: their configure() sets
        # the client middleware the relay's pushes run through.
        _import_app(args.require, jobs_expected=True)
        relay = _relay(args.outbox_url, args)
        relay.start()
        try:
            return run_worker(argparse.Namespace(**{**vars(args), "require": []}))
        finally:
            relay.stop()

    return run


def add_commands(
    sub: Any,
    add_redis_options: Callable[[argparse.ArgumentParser], None],
    make_parser: Callable[..., argparse.ArgumentParser],
) -> None:
    """Register ``outbox`` and the worker's ``--outbox-url`` on the ``jobkit`` parser."""
    worker = sub.choices["worker"]
    worker.add_argument("--outbox-url", metavar="URL",
                        help="also relay the jobkit_outbox table of this database to Redis")
    _relay_options(worker, "outbox-")
    worker.set_defaults(func=_with_relay(worker.get_default("func")))

    outbox = make_parser(
        sub, "outbox", "the transactional outbox table and its relay",
        "Jobs enqueued with Job.set(outbox=session) are rows of the jobkit_outbox table,\n"
        "committed with the application's transaction; a relay moves them to Redis.",
        "examples:\n  jobkit outbox create-table --database-url postgresql://app@db/shop\n"
        "  jobkit outbox relay --database-url postgresql://app@db/shop\n"
        "  jobkit outbox status --database-url sqlite:///shop.db")
    commands = outbox.add_subparsers(dest="outbox_command", required=True, metavar="COMMAND")
    url = "postgresql://app@db/shop"
    for name, func, text, examples in (
        ("create-table", cmd_create_table, "create the jobkit_outbox table (idempotent)",
         [f"jobkit outbox create-table --database-url {url}"]),
        ("relay", cmd_relay, "move outbox rows to Redis until stopped",
         [f"jobkit outbox relay --database-url {url} --redis-url redis://cache:6379/0",
          "JOBKIT_OUTBOX_URL=mysql://root@db/shop jobkit outbox relay --batch-size 500"]),
        ("status", cmd_status, "rows waiting in the outbox and the oldest's age",
         [f"jobkit outbox status --database-url {url}",
          "jobkit outbox status --database-url sqlite:///shop.db --json"]),
    ):
        p = make_parser(commands, name, text, "",
                        "examples:\n" + "\n".join(f"  {e}" for e in examples))
        p.add_argument("--database-url", metavar="URL",
                       help="the application's database (default: $JOBKIT_OUTBOX_URL)")
        if name == "relay":
            add_redis_options(p)
            _relay_options(p)
            p.add_argument("-r", "--require", action="append", default=[], metavar="MODULE",
                           help="import this module (or .py file) first: where the app calls "
                                "jobkit.configure(), so its client middleware's after_push "
                                "runs for each relayed job (repeatable)")
        else:
            p.add_argument("--log-level", default=argparse.SUPPRESS,
                           choices=["DEBUG", "INFO", "WARNING", "ERROR"])
        if name == "status":
            p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(func=func)
