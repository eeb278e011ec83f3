"""The whole jobkit-lint exception tree, rooted at :class:`JobkitLintError`."""

from __future__ import annotations

__all__ = ["ConfigError", "JobkitLintError", "RuleError", "UnknownRuleError"]


class JobkitLintError(Exception):
    """Raised when jobkit-lint cannot do what it was asked; the CLI exits with status 2."""


class ConfigError(JobkitLintError, ValueError):
    """Raised when `[tool.jobkit-lint]` or a command-line option holds an invalid value."""


class UnknownRuleError(ConfigError):
    """Raised when a rule code or prefix given to select/ignore/explain matches no rule."""


class RuleError(JobkitLintError):
    """Raised when a rule class is malformed (missing CODE, NAME, MESSAGE or examples)."""
