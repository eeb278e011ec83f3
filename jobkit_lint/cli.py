"""`jobkit-lint`: a thin command-line shell over :func:`jobkit_lint.lint_paths`."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from jobkit_lint._version import __version__
from jobkit_lint.baseline import apply_baseline, read_baseline, write_baseline
from jobkit_lint.config import load_config
from jobkit_lint.errors import JobkitLintError, UnknownRuleError
from jobkit_lint.explain import all_topics, example_message, explain, find_topic
from jobkit_lint.output import FORMATS, render
from jobkit_lint.runner import LintReport, lint_paths

__all__ = ["main"]

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"--jobs={number} must be at least one")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="jobkit-lint",
        description="Lint background-job code (jobkit, Celery, RQ, Dramatiq, arq, huey).",
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files or directories")
    parser.add_argument("--select", type=_codes, help="comma-separated codes or prefixes")
    parser.add_argument("--ignore", type=_codes, help="comma-separated codes or prefixes")
    parser.add_argument("--format", choices=sorted(FORMATS), default="text", dest="fmt")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    parser.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    parser.add_argument("--explain", metavar="CODE|NAME", help="describe a rule and exit")
    parser.add_argument("--jobs", type=_positive, help="worker processes (default: all cores)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write cache")
    parser.add_argument("--stats", action="store_true", help="print counts and timing to stderr")
    parser.add_argument("--warn-unused-ignores", action="store_true",
                        help="report suppressions that silence nothing (JK001)")
    parser.add_argument("--fix", action="store_true",
                        help="apply the provably safe rewrites (JK101, JK402) and report the rest")
    parser.add_argument("--diff", action="store_true",
                        help="print what --fix would change as a unified diff; write nothing")
    parser.add_argument("--force-exclude", action="store_true",
                        help="apply `exclude` to paths named on the command line too")
    parser.add_argument("--baseline", type=Path, metavar="FILE",
                        help="report only findings not recorded in FILE")
    parser.add_argument("--write-baseline", type=Path, metavar="FILE",
                        help="record every finding in FILE and exit 0")
    parser.add_argument("--version", action="version", version=f"jobkit-lint {__version__}")
    return parser


def _stats(report: LintReport, baselined: int | None) -> str:
    s = report.stats
    by_code: dict[str, int] = {}
    for finding in report.findings:
        by_code[finding.code] = by_code.get(finding.code, 0) + 1
    lines = [
        f"files: {s.files}  parsed: {s.parsed}  cached: {s.cached}  "
        f"skipped by pre-filter: {s.skipped}  indexed only: {s.indexed}  "
        f"time: {s.seconds:.2f}s",
        *([f"in the baseline: {baselined}"] if baselined is not None else []),
        *(f"{code}: {count}" for code, count in sorted(by_code.items())),
    ]
    return "\n".join(lines) + "\n"


def _list_rules() -> str:
    return "".join(
        f"{topic.CODE}  {topic.NAME:<26} {example_message(topic)}\n" for topic in all_topics()
    )


def _run(args: argparse.Namespace) -> int:
    if args.list_rules:
        sys.stdout.write(_list_rules())
        return EXIT_CLEAN
    if args.explain:
        sys.stdout.write(explain(find_topic(args.explain)) + "\n")
        return EXIT_CLEAN
    config = load_config(Path(args.paths[0])).with_cli(select=args.select, ignore=args.ignore)
    known = [topic.CODE for topic in all_topics()]
    for prefix, _level in config.levels:
        if not any(code.startswith(prefix) for code in known):
            raise UnknownRuleError(f"levels[{prefix!r}] matches no rule code")
    if args.fix or args.diff:
        from jobkit_lint.fix_command import run_fix  # libcst.codemod: only when fixing

        return run_fix(args.paths, config, diff=args.diff, fmt=args.fmt,
                       exit_zero=args.exit_zero, jobs=args.jobs, use_cache=not args.no_cache)
    recorded = read_baseline(args.baseline) if args.baseline else None
    report = lint_paths(
        args.paths, config=config, jobs=args.jobs, use_cache=not args.no_cache,
        warn_unused_ignores=args.warn_unused_ignores, force_exclude=args.force_exclude,
    )
    if report.stats.files == 0:
        sys.stderr.write(f"jobkit-lint: warning: no Python files to lint in "
                         f"{', '.join(args.paths)}\n")
    if args.write_baseline:
        write_baseline(args.write_baseline, report.findings, root=config.root)
        sys.stderr.write(f"jobkit-lint: recorded {len(report.findings)} findings in "
                         f"{args.write_baseline}\n")
        return EXIT_CLEAN
    findings, baselined = report.findings, None
    if recorded is not None:
        findings, baselined = apply_baseline(findings, recorded, root=config.root)
    sys.stdout.write(render(findings, args.fmt, config=config, files=report.stats.files))
    if args.stats:
        sys.stderr.write(_stats(report, baselined))
    if findings and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def main(argv: Sequence[str] | None = None) -> int:
    """Run the linter; returns 0 when clean, 1 with findings, 2 on usage or internal errors."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except JobkitLintError as e:
        sys.stderr.write(f"jobkit-lint: error: {e}\n")
        return EXIT_ERROR
    except Exception:
        sys.stderr.write("jobkit-lint: internal error\n" + traceback.format_exc())
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
