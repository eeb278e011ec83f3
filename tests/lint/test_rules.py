"""Every rule's VALID and INVALID examples, run through the public `lint_source` API."""

from __future__ import annotations

import ast
import inspect

import pytest

from jobkit_lint import Rule, all_rules, lint_source

EXAMPLES = [
    pytest.param(rule, kind, number, id=f"{rule.CODE}-{kind}-{number}")
    for rule in all_rules()
    for kind, examples in (("valid", rule.VALID), ("invalid", rule.INVALID))
    for number in range(len(examples))
]


@pytest.mark.parametrize(("rule", "kind", "number"), EXAMPLES)
def test_rule_example_is_reported_exactly_when_invalid(
    rule: type[Rule], kind: str, number: int
) -> None:
    source = (rule.VALID if kind == "valid" else rule.INVALID)[number]
    codes = [f.code for f in lint_source(source, path="example.py")]
    if kind == "valid":
        assert rule.CODE not in codes
    else:
        assert rule.CODE in codes


def test_every_rule_has_a_code_name_message_docstring_and_examples() -> None:
    rules = all_rules()
    assert len(rules) >= 7
    for rule in rules:
        assert rule.CODE.startswith("JK") and rule.CODE[2:].isdigit()
        assert rule.NAME.lower() == rule.NAME and " " not in rule.NAME
        assert rule.MESSAGE and (rule.__doc__ or "").strip()
        assert rule.VALID and rule.INVALID
    assert len({r.CODE for r in rules}) == len(rules)


def test_every_rule_lives_in_a_module_named_after_it() -> None:
    for rule in all_rules():
        module = rule.__module__.rsplit(".", 1)[-1]
        assert module == rule.NAME.replace("-", "_")


def test_rule_modules_import_only_the_rule_api_from_the_package() -> None:
    for rule in all_rules():
        module = inspect.getmodule(rule)
        assert module is not None
        tree = ast.parse(inspect.getsource(module))
        imported = {
            node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jobkit_lint")
        }
        assert imported == {"jobkit_lint.rule"}, rule.__module__
