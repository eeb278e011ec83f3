"""Linting one module: parse once, analyse once, run every rule, position and suppress."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import libcst as cst

from jobkit_lint.analysis import analyze
from jobkit_lint.baseline import fingerprint
from jobkit_lint.config import Config
from jobkit_lint.finding import PARSE_ERROR, Finding
from jobkit_lint.index import ProjectIndex
from jobkit_lint.positions import PositionMap
from jobkit_lint.registry import code_enabled, select_rules
from jobkit_lint.rule import Rule, Violation
from jobkit_lint.summary import ModuleSummary, summarize
from jobkit_lint.suppressions import apply_suppressions, find_suppressions

__all__ = ["ParsedModule", "lint_parsed", "lint_source", "parse"]

_POSITION_PREFIX = re.compile(r"^parser error: error at \d+:\d+: ")


@dataclass
class ParsedModule:
    """A parsed file and its summary, or the JK000 finding explaining why it did not parse."""

    path: str
    source: str
    tree: cst.Module | None
    summary: ModuleSummary
    error: Finding | None = None


def parse(path: str, source: str, *, module: str, is_package: bool) -> ParsedModule:
    """Parse `source`; a syntax error becomes a JK000 finding, never an exception."""
    code, name = PARSE_ERROR
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as e:
        # The native parser's message repeats a position of its own; the finding has one.
        message = f"cannot parse: {_POSITION_PREFIX.sub('', e.message)}"
        error = Finding(path, e.raw_line, e.raw_column + 1, e.raw_line, e.raw_column + 1,
                        code, name, message)
        return ParsedModule(path, source, None, ModuleSummary(module, is_package), error)
    except (RecursionError, MemoryError, ValueError) as e:
        error = Finding(path, 1, 1, 1, 1, code, name, f"cannot parse: {type(e).__name__}: {e}")
        return ParsedModule(path, source, None, ModuleSummary(module, is_package), error)
    return ParsedModule(path, source, tree, summarize(tree, name=module, is_package=is_package))


def lint_parsed(
    parsed: ParsedModule,
    index: ProjectIndex,
    rules: Sequence[type[Rule]],
    *,
    ignore: Sequence[str] = (),
    warn_unused_ignores: bool = False,
) -> list[Finding]:
    """Run `rules` over an already parsed module and return its unsuppressed findings."""
    if parsed.tree is None:
        assert parsed.error is not None
        enabled = code_enabled(parsed.error.code, ignore)
        return [parsed.error] if enabled else []
    summary = parsed.summary
    facts = analyze(parsed.tree, summary.resolver(), index, summary.jobs, summary.bound)
    violations = _unique((rule, v) for rule in rules for v in rule().check(facts))
    wants_suppressions = bool(violations) or warn_unused_ignores
    if not wants_suppressions:
        return []
    # The children too: a node the analysis built is placed by the real nodes it holds.
    nodes = [n for _rule, v in violations
             for n in (v.node, v.anchor, *v.node.children) if n is not None]
    # Block suppressions need every def placed; otherwise only the statements that hold a
    # finding are generated.
    commented = "jobkit-lint:" in parsed.source
    positions = PositionMap(parsed.source, parsed.tree, nodes, statements=True,
                            whole=commented)
    blocks = positions.blocks() if commented else []
    suppressions = find_suppressions(parsed.source, blocks)
    findings = []
    for rule, v in violations:
        # A node made up from nothing in the tree is placed at its anchor call.
        node = v.node if v.node in positions or v.anchor is None else v.anchor
        scope, statement = positions.context(node)
        findings.append(Finding(
            parsed.path, *positions.span(node), rule.CODE, rule.NAME,
            v.message or rule.MESSAGE,
            fingerprint(rule.CODE, scope, statement, positions.text(node)),
        ))
    kept = apply_suppressions(sorted(findings), suppressions, path=parsed.path,
                              warn_unused=warn_unused_ignores and code_enabled("JK001", ignore))
    return sorted(kept)


def _unique(
    violations: Iterable[tuple[type[Rule], Violation]],
) -> list[tuple[type[Rule], Violation]]:
    """Drop a rule's repeated report of the same node; two nodes at one place both count."""
    seen: set[tuple[str, int, str | None]] = set()
    kept = []
    for rule, violation in violations:
        key = (rule.CODE, id(violation.node), violation.message)
        if key not in seen:
            seen.add(key)
            kept.append((rule, violation))
    return kept


def lint_source(
    source: str,
    *,
    path: str = "<string>",
    module: str = "example",
    config: Config | None = None,
    warn_unused_ignores: bool = False,
) -> list[Finding]:
    """Lint one module's text on its own (the project index is that module alone)."""
    config = config or Config()
    parsed = parse(path, source, module=module, is_package=False)
    index = ProjectIndex([parsed.summary], config)
    rules = select_rules(config.select, config.ignore)
    return lint_parsed(parsed, index, rules, ignore=config.ignore,
                       warn_unused_ignores=warn_unused_ignores)
