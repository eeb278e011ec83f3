"""Discovers rule classes (one per module in `jobkit_lint.rules`) and selects among them."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from functools import cache

from jobkit_lint import rules as rules_package
from jobkit_lint.errors import RuleError, UnknownRuleError
from jobkit_lint.finding import PARSE_ERROR, UNUSED_SUPPRESSION
from jobkit_lint.rule import Rule

__all__ = ["all_rules", "code_enabled", "get_rule", "select_rules"]

_ENGINE_CODES = {PARSE_ERROR[0], UNUSED_SUPPRESSION[0]}


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule class, sorted by code."""
    found: list[type[Rule]] = []
    for info in pkgutil.iter_modules(rules_package.__path__):
        module = importlib.import_module(f"{rules_package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value is not Rule:
                _validate(value)
                found.append(value)
    codes = [r.CODE for r in found]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise RuleError(f"rule code {duplicates[0]} is defined twice")
    return tuple(sorted(found, key=lambda r: r.CODE))


def _validate(rule: type[Rule]) -> None:
    for attribute in ("CODE", "NAME", "MESSAGE", "VALID", "INVALID"):
        if not getattr(rule, attribute, None):
            raise RuleError(f"rule {rule.__name__} must define a non-empty {attribute}")
    if not (rule.__doc__ or "").strip():
        raise RuleError(f"rule {rule.__name__} must have a docstring")


def get_rule(code: str) -> type[Rule]:
    """The rule with exactly this code (case-insensitive)."""
    for rule in all_rules():
        if code.upper() == rule.CODE:
            return rule
    raise UnknownRuleError(f"unknown rule code {code!r}; see `jobkit-lint --list-rules`")


def _matches(code: str, patterns: Sequence[str]) -> bool:
    return any(code.startswith(p.upper()) for p in patterns)


def _check_patterns(patterns: Sequence[str], option: str) -> None:
    known = [r.CODE for r in all_rules()] + sorted(_ENGINE_CODES)
    for pattern in patterns:
        if pattern.upper() != "ALL" and not any(c.startswith(pattern.upper()) for c in known):
            raise UnknownRuleError(f"{option}={pattern!r} matches no rule code")


def select_rules(select: Sequence[str] = (), ignore: Sequence[str] = ()) -> tuple[type[Rule], ...]:
    """Rules enabled by code prefixes (`JK1` selects JK101 and JK102); empty select means all."""
    _check_patterns(select, "select")
    _check_patterns(ignore, "ignore")
    chosen = [
        r for r in all_rules()
        if (not select or "ALL" in {s.upper() for s in select} or _matches(r.CODE, select))
        and not _matches(r.CODE, ignore)
    ]
    return tuple(chosen)


def code_enabled(code: str, ignore: Sequence[str]) -> bool:
    """Engine-owned codes (JK000, JK001) are always on unless explicitly ignored."""
    return not _matches(code, ignore)
