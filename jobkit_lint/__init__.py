"""jobkit-lint: a libcst linter for background-job anti-patterns.

It knows jobkit, Celery, RQ, Dramatiq, arq, huey and Django tasks. Use the `jobkit-lint`
command, or::

    from jobkit_lint import lint_paths
    for finding in lint_paths(["src"]):
        print(finding.path, finding.line, finding.code, finding.message)
"""

from __future__ import annotations

from jobkit_lint._version import __version__
from jobkit_lint.config import Config, load_config
from jobkit_lint.engine import lint_source
from jobkit_lint.errors import ConfigError, JobkitLintError, RuleError, UnknownRuleError
from jobkit_lint.finding import Finding
from jobkit_lint.registry import all_rules, get_rule
from jobkit_lint.rule import Rule, Violation
from jobkit_lint.runner import LintReport, LintStats, lint_paths

__all__ = [
    "Config",
    "ConfigError",
    "Finding",
    "JobkitLintError",
    "LintReport",
    "LintStats",
    "Rule",
    "RuleError",
    "UnknownRuleError",
    "Violation",
    "__version__",
    "all_rules",
    "get_rule",
    "lint_paths",
    "lint_source",
    "load_config",
]
