"""The rule API: a rule is a small class that reads :class:`FileFacts` and yields violations.

Rules report data only; the engine turns violations into positioned findings, applies
suppressions and renders output. Adding a rule means adding one module under `rules/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from jobkit_lint.facts import Enqueue, FileFacts, JobDef, Scope
from jobkit_lint.names import dotted_name
from jobkit_lint.traversal import call_name, iter_body_nodes, iter_children
from jobkit_lint.values import describe_unserializable, is_model_value, iter_arg_values

# Everything a rule may use: rule modules import from here only, so the analysis internals
# can change without touching the rules.
__all__ = [
    "Enqueue",
    "FileFacts",
    "JobDef",
    "Rule",
    "Scope",
    "Violation",
    "call_name",
    "describe_unserializable",
    "dotted_name",
    "is_model_value",
    "iter_arg_values",
    "iter_body_nodes",
    "iter_children",
]


@dataclass(frozen=True)
class Violation:
    """A problem at `node`; sub-expressions name their enclosing call as `anchor`."""

    node: cst.CSTNode
    anchor: cst.CSTNode | None = None
    message: str | None = None


class Rule:
    """Base class of every rule; subclasses set the class attributes and implement `check`."""

    CODE: ClassVar[str]
    NAME: ClassVar[str]
    MESSAGE: ClassVar[str]
    VALID: ClassVar[tuple[str, ...]]
    INVALID: ClassVar[tuple[str, ...]]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        """Yield the violations of this rule in one module."""
        raise NotImplementedError
