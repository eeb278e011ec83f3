"""The rule API: a rule is a small class that reads :class:`FileFacts` and yields violations.

Rules report data only; the engine turns violations into positioned findings, applies
suppressions and renders output. Adding a rule means adding one module under `rules/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from jobkit_lint.blocking import blocking_advice, is_async_job, local_bindings
from jobkit_lint.facts import Enqueue, FileFacts, JobDef, Scope
from jobkit_lint.names import dotted_name
from jobkit_lint.traversal import call_name, iter_body_nodes, iter_children
from jobkit_lint.values import (
    describe_unserializable,
    forwarded_keywords,
    is_model_value,
    iter_arg_values,
)

# Everything a rule may use: rule modules import from here only, so the analysis internals
# can change without touching the rules.
__all__ = [
    "Enqueue",
    "FileFacts",
    "JobDef",
    "Rule",
    "Scope",
    "Violation",
    "blocking_advice",
    "call_name",
    "describe_unserializable",
    "dotted_name",
    "forwarded_keywords",
    "is_async_job",
    "is_model_value",
    "iter_arg_values",
    "iter_body_nodes",
    "iter_children",
    "job_code",
    "local_bindings",
]


def job_code(
    facts: FileFacts, job: JobDef
) -> Iterator[tuple[cst.FunctionDef, list[cst.CSTNode], str | None]]:
    """A job's body functions and the helpers they call (one level): module-level functions
    called by name and, for a job class, its methods called as `self.name(...)`; with each
    one's nodes and the helper's name, so a message can say where the call is."""
    functions = facts.module_functions()
    methods: dict[str, cst.FunctionDef] = {}
    if type(job.node) is cst.ClassDef and type(job.node.body) is cst.IndentedBlock:
        methods = {
            stmt.name.value: stmt for stmt in job.node.body.body
            if type(stmt) is cst.FunctionDef and stmt not in job.bodies
        }
    jobs = {j.node.name.value for j in facts.jobs}
    seen: set[str] = set()
    for body in job.bodies:
        nodes = job.body_nodes(body)
        yield body, nodes, None
        for node in nodes:
            if type(node) is not cst.Call:
                continue
            func = node.func
            helper, label = None, ""
            if type(func) is cst.Name and func.value not in jobs:
                helper, label = functions.get(func.value), func.value
                helper = None if helper is job.node else helper
            elif (
                type(func) is cst.Attribute and type(func.value) is cst.Name
                and func.value.value == "self"
            ):
                helper, label = methods.get(func.attr.value), f"self.{func.attr.value}"
            if helper is not None and label not in seen:
                seen.add(label)
                # Memoised on the job like its bodies: every rule that reads helpers asks.
                yield helper, job.body_nodes(helper), label


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
