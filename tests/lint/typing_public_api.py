"""Type-checked only (`mypy --strict tests/lint/typing_public_api.py`): the public lint API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jobkit_lint
from jobkit_lint import Config, Finding, LintReport, Rule, Violation
from jobkit_lint.rule import FileFacts


class NoPrintInJobs(Rule):
    """Example third-party rule: jobs log, they do not print."""

    CODE = "JK901"
    NAME = "print-in-job"
    MESSAGE = "use logging in jobs"
    VALID = ("import logging\n",)
    INVALID = ("print(1)\n",)

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        for job in facts.jobs:
            yield Violation(job.node)


def use() -> None:
    config: Config = jobkit_lint.load_config(Path("."))
    report: LintReport = jobkit_lint.lint_paths(["src"], config=config, jobs=2, use_cache=False)
    first: list[Finding] = list(report)
    seconds: float = report.stats.seconds
    findings: list[Finding] = jobkit_lint.lint_source("x = 1\n", path="x.py")
    codes: list[str] = [rule.CODE for rule in jobkit_lint.all_rules()]
    explained: type[Rule] = jobkit_lint.get_rule("JK101")
    del first, seconds, findings, codes, explained
