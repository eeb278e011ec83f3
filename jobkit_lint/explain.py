"""Plain-text and markdown renderings of a rule: its docstring and examples."""

from __future__ import annotations

import inspect
import textwrap

from jobkit_lint.rule import Rule

__all__ = ["explain", "rule_markdown"]


def explain(rule: type[Rule]) -> str:
    """What `jobkit-lint --explain CODE` prints."""
    parts = [f"{rule.CODE} {rule.NAME}", "", inspect.cleandoc(rule.__doc__ or ""), ""]
    for title, examples in (("Valid", rule.VALID), ("Invalid", rule.INVALID)):
        for number, example in enumerate(examples, start=1):
            parts += [f"{title} example {number}:", textwrap.indent(example.rstrip(), "    "), ""]
    return "\n".join(parts)


def rule_markdown(rule: type[Rule]) -> str:
    """The docs section for one rule."""
    doc = inspect.cleandoc(rule.__doc__ or "")
    summary, _, body = doc.partition("\n")
    parts = [f"#### {rule.CODE} {rule.NAME}", "", f"**{summary.strip()}**", ""]
    if body.strip():
        parts += [body.strip(), ""]
    for title, examples in (("Flagged", rule.INVALID), ("Fine", rule.VALID)):
        parts += [f"{title}:", ""]
        for example in examples:
            parts += ["```python", example.rstrip(), "```", ""]
    return "\n".join(parts)
