"""The `--fix` / `--diff` path of the command line: rewrite, then say what was done and left."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from jobkit_lint.config import Config
from jobkit_lint.fix import fix_paths
from jobkit_lint.output import render
from jobkit_lint.runner import lint_paths

__all__ = ["run_fix"]


def run_fix(
    paths: Sequence[str], config: Config, *, diff: bool, fmt: str, exit_zero: bool,
    jobs: int | None = None, use_cache: bool = True,
) -> int:
    """`--diff` prints the rewrites as a unified diff and writes nothing (exit 1 when there is
    one); `--fix` writes them, then reports the findings that are left like a normal run."""
    report = fix_paths(paths, config=config, write=not diff, use_cache=use_cache)
    err = sys.stderr
    verb = "would fix" if diff else "fixed"
    for fix in report.fixed:
        err.write(f"{verb} {fix.path}:{fix.line}: {fix.code} {fix.description}\n")
    for finding, why in report.left:
        if why:
            err.write(f"left {finding.path}:{finding.line}: {finding.code} {why}\n")
    files = len(report.changes)
    if diff:
        sys.stdout.write(report.diff())
        err.write(f"Would fix {len(report.fixed)} finding(s) in {files} file(s); "
                  f"{len(report.left)} left.\n")
        return 1 if report.changes and not exit_zero else 0
    remaining = lint_paths(paths, config=config, jobs=jobs, use_cache=use_cache).findings
    sys.stdout.write(render(remaining, fmt))
    err.write(f"Fixed {len(report.fixed)} finding(s) in {files} file(s); "
              f"{len(remaining)} left.\n")
    return 1 if remaining and not exit_zero else 0
