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


def add_commands(sub: Any, add_redis_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``jobkit status`` on the ``jobkit`` parser."""
    p = sub.add_parser(
        "status", help="where a job is now: queued, running, scheduled, retrying, dead",
        description="Look a job up by jid: queued (queue and position, 1 = next), running "
        "(process and start time), scheduled (run time), retrying (attempt, next run, last "
        "error), dead, or not found (exit code 1). Example: jobkit status 2f1c0e5b9a7d4c3b",
    )
    add_redis_options(p)
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("jid", help="the job id (hex), as printed at enqueue or in the ops tables")
    p.set_defaults(func=cmd_status)
