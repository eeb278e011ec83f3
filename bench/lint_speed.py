"""Benchmark jobkit-lint against libcst parse-only time (and Fixit, when installed).

Run: python bench/lint_speed.py [--jobs N] [--files 2000]

(a) the source tree of the installed Django wheel (skipped when Django is not importable);
(b) a generated tree of job code. For each: jobkit-lint wall time cold and warm (cache) as a
subprocess with --jobs N, libcst parse-only time of the same files on one core, jobkit-lint
on one core without cache in-process, and the ratio of the two.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import libcst as cst

from jobkit_lint import lint_paths

TARGET_COLD_A = 10.0
TARGET_WARM_A = 1.0
TARGET_RATIO_B = 0.8

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


def parse_only(files: list[Path]) -> float:
    """CPU seconds to read and libcst-parse `files` on one core."""
    started = time.process_time()
    for path in files:
        cst.parse_module(path.read_text(encoding="utf-8"))
    return time.process_time() - started


def one_core(tree: Path) -> tuple[float, int]:
    """CPU seconds of an in-process, uncached, single-process jobkit-lint run."""
    started = time.process_time()
    report = lint_paths([tree], jobs=1, use_cache=False)
    return time.process_time() - started, len(report.findings)


def cli(tree: Path, jobs: int) -> tuple[float, str]:
    """Wall seconds of one `jobkit-lint` subprocess run, and its stats line."""
    command = [sys.executable, "-m", "jobkit_lint.cli", str(tree), "--jobs", str(jobs),
               "--format", "json", "--exit-zero", "--stats"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tree)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"jobkit-lint failed ({done.returncode}): {done.stderr}")
    return elapsed, done.stderr.strip().splitlines()[0]


def fixit(tree: Path) -> str:
    """Fixit's default rules on the same tree, or why it was skipped."""
    if shutil.which("fixit") is None:
        return "skipped: fixit is not installed"
    started = time.perf_counter()
    try:
        subprocess.run(["fixit", "lint", str(tree)], capture_output=True, check=False,
                       timeout=600, cwd=tree)
    except subprocess.TimeoutExpired:
        return "skipped: fixit took longer than 600 s"
    return f"{time.perf_counter() - started:.2f} s wall"


def measure(label: str, tree: Path, files: list[Path], jobs: int, repeat: int) -> dict[str, float]:
    """Print and return the cold/warm/parse-only/one-core numbers for one tree.

    Per-core figures are CPU time (process_time), best of `repeat` interleaved runs, so that
    other load on the machine distorts them as little as possible; wall figures are one run.
    """
    shutil.rmtree(tree / ".jobkit-lint-cache", ignore_errors=True)
    cold, cold_stats = cli(tree, jobs)
    warm, warm_stats = cli(tree, jobs)
    parses, lints = [], []
    findings = 0
    for _ in range(repeat):
        parses.append(parse_only(files))
        seconds, findings = one_core(tree)
        lints.append(seconds)
    parse, lint = min(parses), min(lints)
    print(f"\n== {label}: {len(files)} files")
    print(f"  jobkit-lint cold, --jobs {jobs}:   {cold:6.2f} s wall  ({cold_stats})")
    print(f"  jobkit-lint warm, --jobs {jobs}:   {warm:6.2f} s wall  ({warm_stats})")
    print(f"  libcst parse-only, 1 core:    {parse:6.2f} s CPU ({len(files) / parse:.0f} files/s)")
    print(f"  jobkit-lint uncached, 1 core: {lint:6.2f} s CPU ({len(files) / lint:.0f} files/s, "
          f"{findings} findings)")
    print(f"  throughput vs parse-only:     {parse / lint:6.2f}x")
    return {"cold": cold, "warm": warm, "parse": parse, "one_core": lint}


def verdict(met: bool) -> str:
    """`met` or `MISSED`."""
    return "met" if met else "MISSED"


def main() -> int:
    """Run both benchmarks and print the numbers against the targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-fixit", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, libcst {version('libcst')}, "
          f"{os.cpu_count()} cores, --jobs {args.jobs}")
    with tempfile.TemporaryDirectory() as scratch:
        try:
            import django
        except ImportError:
            print("\n== (a) Django: skipped, Django is not importable (pip install django)")
        else:
            tree = Path(scratch) / "django-src"
            shutil.copytree(Path(django.__file__).parent, tree / "django")
            files = sorted(tree.rglob("*.py"))
            a = measure(f"(a) Django {django.__version__} source", tree, files, args.jobs,
                        args.repeat)
            print(f"  target cold <= {TARGET_COLD_A} s: {verdict(a['cold'] <= TARGET_COLD_A)}; "
                  f"warm <= {TARGET_WARM_A} s: {verdict(a['warm'] <= TARGET_WARM_A)}")
            if not args.skip_fixit:
                print(f"  Fixit default rules:           {fixit(tree)}")
        tree = Path(scratch) / "generated"
        files = generate(tree, args.files)
        b = measure("(b) generated job code", tree, files, args.jobs, args.repeat)
        ratio = b["parse"] / b["one_core"]
        print(f"  target >= {TARGET_RATIO_B}x parse-only: {verdict(ratio >= TARGET_RATIO_B)}")
        if not args.skip_fixit:
            print(f"  Fixit default rules:           {fixit(tree)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
