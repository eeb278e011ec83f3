"""``jobkit status JID``: where one job is now (queued, running, scheduled, retrying, dead)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TextIO

from . import ops


def cmd_status(args: argparse.Namespace) -> int:
    found = ops._admin(args).status(args.jid)

    def render(out: TextIO) -> None:
        out.write(found.describe() + "\n")

    ops._emit(args, found.as_dict(), render)
    # Scripts can branch on the exit code alone: 0 found, 1 not found.
    return 0 if found.state != "not_found" else 1


def add_commands(
    sub: Any,
    add_redis_options: Callable[[argparse.ArgumentParser], None],
    make_parser: Callable[..., argparse.ArgumentParser],
) -> None:
    """Register ``jobkit status`` on the ``jobkit`` parser."""
    p = make_parser(
        sub, "status", "where a job is now: queued, running, scheduled, retrying, dead",
        "Look a job up by jid: queued (queue and position, 1 = the next fetched), running\n"
        "(process and start time, UTC), scheduled (run time), retrying (attempt, next run,\n"
        "last error), dead, or not found (exit status 1).",
        "examples:\n  jobkit status 2b9f0c1d8e7a6b5c4d3e2f1a\n"
        "  jobkit status 2b9f0c1d8e7a6b5c4d3e2f1a --json | jq .state")
    add_redis_options(p)
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("jid", help="the job's id (jid), as printed at enqueue or in the ops tables")
    p.set_defaults(func=cmd_status)
