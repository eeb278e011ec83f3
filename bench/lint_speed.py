"""Benchmark jobkit-lint against libcst parse-only time: Django, external trees, generated code.

Run: python bench/lint_speed.py [--jobs 2] [--tree PATH[=COLD_TARGET_S]]... [--boost 15] [--fixit]
     [--breakdown]

Trees: (a) the source of the installed Django (skipped when Django is not importable), every
`--tree` given (e.g. a checkout of saleor), and (b) a generated tree of job code. Each tree is
copied into a temporary directory first, so its cache never touches the original. For each:

- jobkit-lint cold (no cache) and warm, each one `jobkit-lint --jobs N` subprocess: wall time,
  and CPU time (user + system, worker processes included) from the children's rusage;
- libcst parse-only of every file, one core, CPU;
- jobkit-lint uncached on one core in-process, CPU, with the files it parsed with libcst and
  the files it only syntax-checked with compile() recorded; then that same parsing and
  checking alone, and the overhead of everything else (index, rules, positions, cache) on top.

Per-core figures are CPU time, best of `--repeat`. The machine this runs on may be loaded by
other work: the load average is printed with every tree, and CPU times are what load distorts
least; `--boost N` (root) repeats cold and warm at nice -N, ahead of that other work.
`--breakdown` adds one more uncached one-core run with each phase timed (CPU): the libcst
parses, the module summaries, the pre-filter, the index, the analysis walk, each rule,
positions; what is left is discovery, reading, hashing and the passes' own loops. Nothing
here is asserted; the targets are printed as met or MISSED.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import libcst as cst

import jobkit_lint.engine
import jobkit_lint.runner
import jobkit_lint.workers
from jobkit_lint import lint_paths
from jobkit_lint.registry import select_rules

TARGET_COLD_DJANGO = 3.0
TARGET_WARM_DJANGO = 0.5
TARGET_OVERHEAD = 0.25  # rules and the rest, over libcst parse-only of the same files

JOBKIT = '''\
"""Jobs for {name}."""
import logging

import jobkit
from app.models import Order, Customer
from app.services import {name}_service

log = logging.getLogger(__name__)


class Sync{cls}Job(jobkit.Job):
    """Push one {name} to the CRM."""

    def perform(self, order_id: int, options: dict) -> None:
        result = {name}_service.sync(order_id, **options)
        if result.failure:
            raise result.error


class Notify{cls}Job(jobkit.Job):
    def perform(self, customer_id: int) -> None:
        try:
            customer = Customer.objects.get(id=customer_id)
        except Customer.DoesNotExist:
            return
        {name}_service.notify(customer.id, channel="email")


def schedule_{name}(order: Order, when) -> None:
    Sync{cls}Job.set(queue="low").perform_async(order.id, {{"force": False}})
    Notify{cls}Job.perform_in(when, order.customer_id)
{extra}
'''

CELERY = '''\
"""Celery tasks for {name}."""
from celery import shared_task
from django.db import transaction

from app.models import Invoice
from app.services import {name}_service


@shared_task(bind=True, max_retries=5)
def charge_{name}(self, invoice_id):
    outcome = {name}_service.charge(invoice_id)
    if not outcome.ok:
        raise self.retry(exc=outcome.error)


@shared_task
def archive_{name}(invoice_ids):
    for invoice_id in invoice_ids:
        {name}_service.archive(invoice_id)


def close_{name}(invoice_id):
    invoice = Invoice.objects.get(id=invoice_id)
    with transaction.atomic():
        invoice.close()
        transaction.on_commit(lambda: charge_{name}.delay(invoice.id))
    archive_{name}.apply_async(args=[[invoice.id]], countdown=60)
{extra}
'''

DRAMATIQ = '''\
"""Dramatiq actors for {name}."""
import dramatiq

from app.services import {name}_service


@dramatiq.actor(max_retries=3)
def refresh_{name}(account_id, since):
    {name}_service.refresh(account_id, since)


@dramatiq.actor
def export_{name}(account_id):
    try:
        {name}_service.export(account_id)
    except {name}_service.NotFound:
        return


def start_{name}(account):
    refresh_{name}.send(account.id, "2024-01-01T00:00:00")
    export_{name}.send_with_options(args=(account.id,), delay=1000)
{extra}
'''

VIEWS = '''\
"""Views for {name}."""
from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from app.models import Order
from app.tasks.celery_{other} import charge_{other}


def {name}_detail(request, pk):
    order = get_object_or_404(Order, pk=pk)
    charge_{other}.delay(order.id)
    return JsonResponse({{"id": order.id, "total": str(order.total)}})


def {name}_list(request):
    orders = Order.objects.filter(owner=request.user)[:50]
    return JsonResponse({{"ids": [o.id for o in orders]}})
{extra}
'''

RQ = '''\
"""RQ enqueues for {name}."""
from datetime import timedelta

from redis import Redis
from rq import Queue

from app.work import resize_{name}

queue = Queue(connection=Redis())


def resize_later_{name}(image_id, size):
    queue.enqueue(resize_{name}, image_id, size, job_timeout=60)
    queue.enqueue_in(timedelta(minutes=5), resize_{name}, image_id, size * 2)
    queue.enqueue_call(resize_{name}, args=(image_id,), kwargs={{"size": size}})
{extra}
'''

BAD = {
    "jobkit": "\n\ndef bad_{name}(order: Order):\n    Sync{cls}Job.perform_async(order)\n",
    "celery": "\n\ndef bad_{name}(when):\n    from datetime import datetime\n"
              "    archive_{name}.delay({{1, 2}}, datetime.now())\n",
    "dramatiq": "\n\n@dramatiq.actor\ndef noisy_{name}(account_id):\n    try:\n"
                "        {name}_service.export(account_id)\n    except Exception:\n"
                "        pass\n",
    "views": "\n\ndef bad_{name}(request, pk):\n    order = Order.objects.get(pk=pk)\n"
             "    charge_{other}.delay(order)\n",
    "rq": "\n\ndef bad_{name}(image_id):\n    queue.enqueue(resize_{name}, {{image_id}})\n",
}
TEMPLATES = {"jobkit": JOBKIT, "celery": CELERY, "dramatiq": DRAMATIQ, "views": VIEWS, "rq": RQ}


def generate(root: Path, count: int) -> list[Path]:
    """`count` files: 20 packages of job, task, actor, view and RQ modules, 1 in 10 flawed."""
    (root / "app").mkdir(parents=True)
    files: list[Path] = []
    for path, text in (("app/__init__.py", ""), ("app/models.py", "class Order: ...\n")):
        (root / path).write_text(text)
        files.append(root / path)
    packages = 20
    per_package = (count - len(files)) // packages
    for p in range(packages):
        package = root / "app" / "tasks" if p == 0 else root / "app" / f"pkg{p}"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text("")
        files.append(package / "__init__.py")
        for m in range(per_package - 1):
            kind = list(TEMPLATES)[m % len(TEMPLATES)]
            name = f"{kind}_{p}_{m}"
            other = f"{p}_{m - 1}"
            fields = {"name": name, "cls": f"P{p}M{m}", "other": other}
            # One module in ten is flawed, spread over every kind of module.
            extra = BAD[kind].format(**fields) if (7 * p + m) % 10 == 3 else ""
            prefix = "celery_" if kind == "celery" else ""
            path = package / f"{prefix}{p}_{m}.py" if kind == "celery" else package / f"{name}.py"
            path.write_text(TEMPLATES[kind].format(extra=extra, **fields))
            files.append(path)
    while len(files) < count:
        extra_path = root / "app" / f"extra_{len(files)}.py"
        extra_path.write_text(TEMPLATES["jobkit"].format(name="extra", cls="Extra", extra=""))
        files.append(extra_path)
    return files


def load() -> str:
    """The 1/5/15-minute load averages, as `uptime` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli(tree: Path, jobs: int, *, niceness: int = 0) -> tuple[float, float, str]:
    """Wall and CPU seconds of one `jobkit-lint` subprocess run, and its stats line;
    `niceness` below zero (root only) lets the run go ahead of other work on the machine."""
    command = [sys.executable, "-m", "jobkit_lint.cli", ".", "--jobs", str(jobs),
               "--format", "json", "--exit-zero", "--stats"]
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tree,
                          preexec_fn=(lambda: os.nice(niceness)) if niceness else None)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"jobkit-lint failed ({done.returncode}): {done.stderr}")
    return elapsed, _children_cpu() - cpu, done.stderr.strip().splitlines()[0]


def parse_only(texts: list[str]) -> float:
    """CPU seconds to libcst-parse `texts` on one core."""
    started = time.process_time()
    for text in texts:
        with contextlib.suppress(cst.ParserSyntaxError):
            cst.parse_module(text)
    return time.process_time() - started


def compile_only(texts: list[str]) -> float:
    """CPU seconds of the compile() syntax check of `texts` on one core."""
    started = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for text in texts:
            with contextlib.suppress(SyntaxError, ValueError):
                compile(text, "<bench>", "exec", dont_inherit=True)
    return time.process_time() - started


@dataclass
class OneCore:
    """An in-process, uncached, single-process run and what it parsed and checked."""

    seconds: float
    findings: int
    parsed: list[str]
    checked: list[str]


def one_core(tree: Path) -> OneCore:
    """CPU seconds of an in-process, uncached, single-process jobkit-lint run."""
    parsed: list[str] = []
    checked: list[str] = []
    workers = jobkit_lint.workers
    original_parse, original_check = workers.parse, workers.syntax_error  # type: ignore[attr-defined]

    def recording(into: list[str], inner: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(path: str, text: str, **kwargs: Any) -> Any:
            into.append(text)
            return inner(path, text, **kwargs)
        return wrapper

    # The worker module looks both up at call time: recording wrappers see every call.
    setattr(workers, "parse", recording(parsed, original_parse))  # noqa: B010
    workers.syntax_error = recording(checked, original_check)
    try:
        started = time.process_time()
        report = lint_paths([tree], jobs=1, use_cache=False)
        seconds = time.process_time() - started
    finally:
        setattr(workers, "parse", original_parse)  # noqa: B010
        workers.syntax_error = original_check
    return OneCore(seconds, len(report.findings), parsed, checked)


@contextlib.contextmanager
def _timed(spent: dict[str, float], owner: Any, name: str, label: str) -> Any:
    """Replace `owner.name` (looked up at call time) by a wrapper adding its CPU to `spent`;
    a rule's `check` is a generator, timed by consuming it."""
    original = getattr(owner, name)
    consume = name == "check"

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            result = original(*args, **kwargs)
            return iter(list(result)) if consume else result
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - started

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def breakdown(tree: Path, floor: float) -> None:
    """Print where an uncached one-core run spends its CPU, against the parse/check floor."""
    spent: dict[str, float] = {}
    engine, runner, workers = jobkit_lint.engine, jobkit_lint.runner, jobkit_lint.workers
    patches = [
        (workers, "parse", "libcst parse + summary"), (engine, "summarize", "summaries"),
        (workers, "syntax_error", "compile() checks"), (engine, "analyze", "analysis walk"),
        (engine, "PositionMap", "positions"), (runner, "ProjectIndex", "project index"),
        (runner, "may_define", "pre-filter"), (runner, "may_lint", "pre-filter"),
        (runner, "mentions_job", "pre-filter (job names)"),
    ]
    patches += [(rule, "check", f"rule {rule.CODE}") for rule in select_rules((), ())]
    with contextlib.ExitStack() as stack:
        for owner, name, label in patches:
            stack.enter_context(_timed(spent, owner, name, label))
        started = time.process_time()
        lint_paths([tree], jobs=1, use_cache=False)
        total = time.process_time() - started
    # A libcst parse also builds the summary; a failed compile() check is followed by a parse.
    parse = spent.pop("libcst parse + summary", 0.0) - spent.get("summaries", 0.0)
    checks = spent.pop("compile() checks", 0.0)
    print(f"  breakdown of one more uncached 1-core run ({total:.2f} s CPU): libcst parses "
          f"{parse:.2f} s + compile() checks {checks:.2f} s; on top, as a share of the floor:")
    rest = total - parse - checks - sum(spent.values())
    for label, seconds in [*sorted(spent.items(), key=lambda kv: -kv[1]), ("the rest", rest)]:
        print(f"    {label:28s} {seconds:6.3f} s  +{seconds / floor:.1%}")


def measure(
    label: str, tree: Path, jobs: int, repeat: int, boost: int, *, detail: bool = False
) -> dict[str, float]:
    """Print and return the cold/warm/parse-only/one-core numbers for one tree."""
    files = sorted(tree.rglob("*.py"))
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    lines = sum(t.count("\n") for t in texts)
    print(f"\n== {label}: {len(files)} files, {lines:,} lines")
    print(f"  load average before: {load()}")
    shutil.rmtree(tree / ".jobkit-lint-cache", ignore_errors=True)
    cold, cold_cpu, cold_stats = cli(tree, jobs)
    warm, warm_cpu, warm_stats = cli(tree, jobs)
    boosted = ""
    if boost:
        shutil.rmtree(tree / ".jobkit-lint-cache", ignore_errors=True)
        boosted_cold = cli(tree, jobs, niceness=-boost)
        boosted_warm = cli(tree, jobs, niceness=-boost)
        boosted = (f"  the same at nice -{boost} (ahead of the other load): cold "
                   f"{boosted_cold[0]:.2f} s wall, {boosted_cold[1]:.2f} s CPU; warm "
                   f"{boosted_warm[0]:.2f} s wall, {boosted_warm[1]:.2f} s CPU")
    parses, runs, floors = [], [], []
    for _ in range(repeat):
        parses.append(parse_only(texts))
        run = one_core(tree)
        runs.append(run)
        floors.append(parse_only(run.parsed) + compile_only(run.checked))
    parse, floor = min(parses), min(floors)
    best = min(runs, key=lambda r: r.seconds)
    overhead = best.seconds / floor - 1
    print(f"  jobkit-lint cold, --jobs {jobs}:  {cold:6.2f} s wall, {cold_cpu:6.2f} s CPU"
          f"  ({cold_stats})")
    print(f"  jobkit-lint warm, --jobs {jobs}:  {warm:6.2f} s wall, {warm_cpu:6.2f} s CPU"
          f"  ({warm_stats})")
    if boosted:
        print(boosted)
    print(f"  libcst parse-only, all files, 1 core:  {parse:6.2f} s CPU")
    print(f"  jobkit-lint uncached, 1 core:          {best.seconds:6.2f} s CPU "
          f"({best.findings} findings; {len(best.parsed)} libcst parses, "
          f"{len(best.checked)} compile() checks)")
    print(f"  those parses and checks alone:         {floor:6.2f} s CPU -> everything else "
          f"+{overhead:.0%}")
    if detail:
        breakdown(tree, floor)
    print(f"  load average after:  {load()}")
    return {"cold": cold, "warm": warm, "cold_cpu": cold_cpu, "warm_cpu": warm_cpu,
            "parse": parse, "one_core": best.seconds, "floor": floor, "overhead": overhead}


def fixit(tree: Path) -> str:
    """Fixit's default rules on the same tree (wall time), or why it was skipped."""
    if shutil.which("fixit") is None:
        return "skipped: fixit is not installed"
    started = time.perf_counter()
    try:
        subprocess.run(["fixit", "lint", "."], capture_output=True, check=False,
                       timeout=1800, cwd=tree)
    except subprocess.TimeoutExpired:
        return "skipped: fixit took longer than 1800 s"
    return f"{time.perf_counter() - started:.2f} s wall"


def verdict(met: bool) -> str:
    """`met` or `MISSED`."""
    return "met" if met else "MISSED"


def _tree_argument(value: str) -> tuple[Path, float | None]:
    path, _, target = value.partition("=")
    if not Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"--tree {path!r} is not a directory")
    return Path(path), float(target) if target else None


def main() -> int:
    """Run the benchmarks and print the numbers against the targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tree", type=_tree_argument, action="append", default=[],
                        metavar="PATH[=COLD_TARGET_S]", help="an external source tree")
    parser.add_argument("--skip-django", action="store_true")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--boost", type=int, default=0, metavar="N",
                        help="also time cold and warm at nice -N (root): less distorted by "
                             "other load")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time each phase of one uncached one-core run")
    parser.add_argument("--fixit", action="store_true",
                        help="also time Fixit's default rules on each tree (minutes)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, libcst {version('libcst')}, "
          f"{os.cpu_count()} cores, --jobs {args.jobs}")

    def report_overhead(numbers: dict[str, float], tree: Path) -> None:
        print(f"  target everything else <= +{TARGET_OVERHEAD:.0%} over parse-only: "
              f"{verdict(numbers['overhead'] <= TARGET_OVERHEAD)}")
        if args.fixit:
            print(f"  Fixit default rules: {fixit(tree)}")

    with tempfile.TemporaryDirectory() as scratch:
        django_dir = None
        if not args.skip_django:
            try:
                import django
            except ImportError:
                print("\n== (a) Django: skipped, Django is not importable (pip install django)")
            else:
                django_dir = Path(django.__file__).parent
                tree = Path(scratch) / "django-src"
                shutil.copytree(django_dir, tree / "django")
                a = measure(f"(a) Django {django.__version__} source", tree, args.jobs,
                            args.repeat, args.boost, detail=args.breakdown)
                print(f"  target cold <= {TARGET_COLD_DJANGO} s wall: "
                      f"{verdict(a['cold'] <= TARGET_COLD_DJANGO)}; warm <= "
                      f"{TARGET_WARM_DJANGO} s wall: {verdict(a['warm'] <= TARGET_WARM_DJANGO)}")
                report_overhead(a, tree)
        for path, target in args.tree:
            tree = Path(scratch) / path.resolve().name
            shutil.copytree(path, tree, ignore=shutil.ignore_patterns(".jobkit-lint-cache"))
            t = measure(f"{path}", tree, args.jobs, args.repeat, args.boost,
                        detail=args.breakdown)
            if target is not None:
                print(f"  target cold <= {target} s wall: {verdict(t['cold'] <= target)}")
            report_overhead(t, tree)
        if not args.skip_generated:
            tree = Path(scratch) / "generated"
            generate(tree, args.files)
            b = measure("(b) generated job code", tree, args.jobs, args.repeat, args.boost,
                        detail=args.breakdown)
            report_overhead(b, tree)
    return 0


if __name__ == "__main__":
    sys.exit(main())
