"""The ``jobkit`` command: the worker, the demo, and the operations commands (in ``ops``)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import cli_errors
from ._version import __version__
from .errors import ConfigError
from .fetch import parse_queue
from .require import require, require_all
from .settings import Settings

if TYPE_CHECKING:
    from .worker import Worker

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def _settings(args: argparse.Namespace) -> Settings:
    from .config import configure_for_command

    return configure_for_command(redis_url=getattr(args, "redis_url", None),
                                 namespace=getattr(args, "namespace", None))


def _cmd_worker(args: argparse.Namespace) -> int:
    if args.processes < 1:
        raise ConfigError(f"--processes={args.processes} must be at least 1")
    if args.processes > 1:
        from . import supervisor

        if args.cpu is not None:
            raise ConfigError(f"--cpu={args.cpu} pins one process; with --processes each "
                              "child gets a CPU of its own (or none with --no-pin)")
        return supervisor.run(args.argv, args.processes, main=main, pin=not args.no_pin)
    if args.cpu is not None and args.no_pin:
        raise ConfigError(f"--cpu={args.cpu} pins the worker and --no-pin says not to: "
                          "give one of them")
    from .placement import place_worker
    from .worker import Worker, WorkerOptions

    sys.path.insert(0, os.getcwd())
    require_all(args.require)
    queues = tuple(parse_queue(q) for q in args.queue) or (("default", 1),)
    options = WorkerOptions(queues=queues, concurrency=args.concurrency, strict=args.strict,
                            timeout=args.timeout, tag=args.tag or "", prefetch=args.prefetch,
                            async_concurrency=args.async_concurrency)
    settings = _settings(args)
    worker = Worker(settings, options)
    # Once every option is known good (a bad one must not pin the caller), before the worker
    # starts its threads. The threads the -r modules started are moved along.
    placement = place_worker(cpu=args.cpu, pin=not args.no_pin)
    try:
        _run(worker)
    finally:
        if placement is not None:
            placement.close()
    return 0


def _run(worker: Worker) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        if worker.stopping:
            logging.getLogger("jobkit").warning("second signal: exiting now; "
                                                "unfinished jobs are recovered by other workers")
            os._exit(1)
        worker.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if hasattr(signal, "SIGTSTP"):
        signal.signal(signal.SIGTSTP, lambda s, f: worker.quiet())
    # The application is imported and lives as long as the process: out of the collector's
    # way, so that its full passes walk only what jobs allocate. With 1,000 coroutine jobs in
    # flight each job's objects outlive a few young collections and reach the old generation;
    # the full passes that follow walked every module too (15% of the CPU per job).
    gc.collect()
    gc.freeze()
    worker.run()


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    summary = demo.run(redis_url=args.redis_url, orders=args.orders, keep=args.keep)
    return 0 if summary["complete"] else 1


DESCRIPTION = """\
Run and operate jobkit background jobs: a Sidekiq-compatible Redis job runtime.

Redis is taken from --redis-url, else $JOBKIT_REDIS_URL or $REDIS_URL, else
redis://localhost:6379/0; --namespace (or $JOBKIT_NAMESPACE) prefixes every key."""

EPILOG = """\
examples:
  jobkit demo                                   a sample workload on the embedded Redis
  jobkit worker -r myapp.jobs -q critical,3 -q default -c 10
  jobkit stats                                  what is queued, running, retrying, dead
  jobkit retry --all --dead                     push every dead job back onto its queue
  jobkit COMMAND --help                         the options of one command

exit status: 0 done, 1 nothing found to act on, 2 bad command line or configuration,
3 Redis unreachable or refusing, 130 interrupted."""

WORKER_EPILOG = """\
examples:
  jobkit worker -r myapp.jobs                   work queue 'default' with 10 threads
  jobkit worker -r myapp/jobs.py -q critical,3 -q default,2 -q low,1
  jobkit worker -r myapp.jobs -q critical -q default --strict    strict priority
  jobkit worker -r myapp.jobs --processes 2     one process per CPU, restarted if they die

signals: TERM/INT stop gracefully (a second one exits at once), TSTP stops fetching (quiet)."""


def _parser(sub: Any, name: str, summary: str, description: str = "",
            epilog: str = "") -> argparse.ArgumentParser:
    """A subcommand whose --help shows its description and examples as written."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=description or summary, epilog=epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobkit", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"jobkit {__version__}")
    parser.add_argument("--log-level", choices=LOG_LEVELS,
                        help="default: INFO for worker, ERROR for the demo and operations")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    w = _parser(sub, "worker", "run a worker process",
                "Fetch jobs from the given queues and run them on threads, with reliable "
                "fetch:\na job leaves Redis only once its outcome is written.", WORKER_EPILOG)
    w.add_argument("-r", "--require", action="append", default=[], metavar="MODULE",
                   help="module or .py file that defines jobs (repeatable)")
    w.add_argument("-q", "--queue", action="append", default=[], metavar="NAME[,WEIGHT]",
                   help="queue to work, with an optional weight (repeatable; default: default)")
    w.add_argument("-c", "--concurrency", type=int, default=10, help="threads (default: 10)")
    w.add_argument("--async-concurrency", type=int, default=100, metavar="N",
                   help="coroutine jobs (async def perform) in flight on the worker's event "
                        "loop, beside the threads (default: 100)")
    w.add_argument("--strict", action="store_true",
                   help="strict queue priority, in the given order")
    w.add_argument("-t", "--timeout", type=float, default=25.0,
                   help="seconds to wait for running jobs on shutdown (default: 25)")
    w.add_argument("--prefetch", type=int, default=None, metavar="N",
                   help="jobs fetched ahead of free threads (default: adapts to job speed)")
    w.add_argument("--tag", help="label shown in Sidekiq's process list")
    w.add_argument("--processes", type=int, default=1,
                   help="run N worker processes, restarting any that dies (default: 1)")
    w.add_argument("--no-pin", action="store_true",
                   help="let the OS move the worker's threads between CPUs (default: one "
                        "CPU no other jobkit worker here has, moving off it when other "
                        "processes crowd it; with --processes, a CPU per child while there "
                        "are enough). For jobs whose work runs outside the GIL")
    w.add_argument("--cpu", type=int, default=None, metavar="N",
                   help="run this worker process on CPU N only, and stay there")
    _add_redis_options(w)
    w.set_defaults(func=_cmd_worker)

    d = _parser(sub, "demo", "run a sample workload on the embedded Redis",
                "Run orders, receipts, a flaky sync, a dying import, a scheduled report and a "
                "periodic\njob through a real worker, and print what happened and what to try "
                "next.",
                "examples:\n  jobkit demo\n  jobkit demo --redis-url redis://localhost:6379/0"
                "    on a real Redis, under jobkit-demo:RUN: only\n"
                "  jobkit demo --redis-url redis://localhost:6379/0 --keep    and keep its keys")
    d.add_argument("--redis-url", help="use this Redis instead of the embedded fakeredis")
    d.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS)
    d.add_argument("--orders", type=int, default=200, help="orders to process (default: 200)")
    d.add_argument("--keep", action="store_true",
                   help="with --redis-url: leave the run's keys, for jobkit stats/dead/status")
    d.set_defaults(func=_cmd_demo)

    from . import ops, outbox_cli, web_cli

    ops.add_commands(sub, _add_redis_options, _parser)
    web_cli.add_command(sub, _add_redis_options, _parser)
    outbox_cli.add_commands(sub, _add_redis_options, _parser)
    c = _parser(sub, "completion", "print a shell completion script",
                "Print the completion script for your shell.",
                "examples:\n  jobkit completion bash > ~/.local/share/bash-completion/"
                "completions/jobkit\n  jobkit completion zsh > ~/.zfunc/_jobkit")
    c.add_argument("shell", choices=["bash", "zsh", "tcsh"], help="the shell to complete in")
    c.set_defaults(func=lambda args: _cmd_completion(parser, args.shell))
    from . import status_cli

    status_cli.add_commands(sub, _add_redis_options, _parser)
    from . import cron_cli

    cron_cli.add_commands(sub, _add_redis_options, _parser)
    return parser


def _cmd_completion(parser: argparse.ArgumentParser, shell: str) -> int:
    import shtab

    sys.stdout.write(shtab.complete(parser, shell=shell))
    return 0


def _add_redis_options(p: argparse.ArgumentParser) -> None:
    # Accepted after the command too (``jobkit worker --log-level DEBUG``).
    p.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
                   help="default: INFO for worker, ERROR for the other commands")
    p.add_argument("--redis-url", help="Redis URL (default: $JOBKIT_REDIS_URL, $REDIS_URL, "
                   "redis://localhost:6379/0)")
    p.add_argument("--namespace", help="key prefix shared with the apps that enqueue")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    level = args.log_level or ("INFO" if args.command == "worker" else "ERROR")
    logging.basicConfig(level=level,
                        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")

    def command() -> int:
        if args.command != "worker" and getattr(args, "require", None):
            sys.path.insert(0, os.getcwd())
            for spec in args.require:
                require(spec)
        code: int = args.func(args)
        return code

    def redis_url() -> str:
        from .config import get_settings

        return getattr(args, "redis_url", None) or get_settings().redis_url

    return cli_errors.run(command, redis_url)


if __name__ == "__main__":
    sys.exit(main())
