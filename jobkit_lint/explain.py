"""Plain-text and markdown renderings of a rule: its docstring and examples.

The engine's own codes (JK000, JK001) are documented here in the same shape as a rule, so
`--explain`, `--list-rules` and the SARIF descriptors treat every code alike.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import ClassVar, Protocol

from jobkit_lint.errors import UnknownRuleError
from jobkit_lint.finding import PARSE_ERROR, UNUSED_SUPPRESSION
from jobkit_lint.registry import all_rules
from jobkit_lint.rule import Rule

__all__ = ["Topic", "all_topics", "example_message", "explain", "find_topic", "rule_markdown"]


class Topic(Protocol):
    """What a code's documentation needs: a rule class, or one of the engine's codes."""

    CODE: ClassVar[str]
    NAME: ClassVar[str]
    MESSAGE: ClassVar[str]
    VALID: ClassVar[tuple[str, ...]]
    INVALID: ClassVar[tuple[str, ...]]


class ParseErrorCode:
    """The file could not be read, decoded or parsed by libcst.

    Nothing else is reported for the file until it parses. libcst parses the syntax of every
    Python version up to 3.14 whatever Python runs the linter, so this is a real syntax error,
    text that is neither UTF-8 nor in the encoding its coding line (PEP 263) names, or an
    unreadable file. The position is libcst's. Ignore it with `ignore = ["JK000"]` or exclude
    the file.
    """

    CODE: ClassVar[str] = PARSE_ERROR[0]
    NAME: ClassVar[str] = PARSE_ERROR[1]
    MESSAGE: ClassVar[str] = "cannot parse: {reason}"
    VALID: ClassVar[tuple[str, ...]] = ("def ship(order_id):\n    return order_id\n",)
    INVALID: ClassVar[tuple[str, ...]] = ("def ship(:\n    return order_id\n",)


class UnusedSuppressionCode:
    """A `# noqa: JK…` or `# jobkit-lint: ignore[…]` comment silenced nothing.

    Reported only with `--warn-unused-ignores`. A stale suppression hides the next real
    finding on that line; delete it. A bare `# noqa` is never reported: it may be meant for
    another linter.
    """

    CODE: ClassVar[str] = UNUSED_SUPPRESSION[0]
    NAME: ClassVar[str] = UNUSED_SUPPRESSION[1]
    MESSAGE: ClassVar[str] = "unused suppression `{comment}`"
    VALID: ClassVar[tuple[str, ...]] = (
        "from shop.models import Order\nfrom shop.tasks import ship\n\n"
        "def view(order: Order):\n    ship.delay(order)  # noqa: JK101\n",
    )
    INVALID: ClassVar[tuple[str, ...]] = ("from shop.tasks import ship\n\ndef view(order_id):\n"
               "    ship.delay(order_id)  # noqa: JK101\n",)


ENGINE_TOPICS: tuple[type[Topic], ...] = (ParseErrorCode, UnusedSuppressionCode)


def all_topics() -> tuple[type[Topic], ...]:
    """The engine's codes, then every rule, in code order."""
    return (*ENGINE_TOPICS, *all_rules())


def find_topic(key: str) -> type[Topic]:
    """The rule or engine code named by its code (`JK101`) or its name (`model-argument`)."""
    wanted = key.strip().lower()
    for topic in all_topics():
        if wanted in (topic.CODE.lower(), topic.NAME):
            return topic
    raise UnknownRuleError(
        f"unknown rule {key!r}: give a code (JK101) or a name (model-argument); "
        "see `jobkit-lint --list-rules`"
    )


def example_message(topic: type[Topic]) -> str:
    """The message the code reports on its first flagged example: a real one, no template."""
    from jobkit_lint.engine import lint_source

    for example in topic.INVALID:
        for finding in lint_source(example, path="example.py", warn_unused_ignores=True):
            if finding.code == topic.CODE:
                return finding.message
    return topic.MESSAGE


def explain(rule: type[Topic] | type[Rule]) -> str:
    """What `jobkit-lint --explain CODE` prints."""
    parts = [f"{rule.CODE} {rule.NAME}", "", inspect.cleandoc(rule.__doc__ or ""), ""]
    for title, examples in (("Valid", rule.VALID), ("Invalid", rule.INVALID)):
        for number, example in enumerate(examples, start=1):
            parts += [f"{title} example {number}:", textwrap.indent(example.rstrip(), "    "), ""]
    return "\n".join(parts)


def rule_markdown(rule: type[Topic] | type[Rule]) -> str:
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
