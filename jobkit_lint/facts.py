"""The facts one traversal collects about a module, which every rule reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from jobkit_lint.index import ProjectIndex
from jobkit_lint.names import NameResolver
from jobkit_lint.traversal import iter_body_nodes

__all__ = ["Enqueue", "FileFacts", "JobDef", "Scope"]


@dataclass
class JobDef:
    """A job definition: the class or function, its framework, and its body functions."""

    node: cst.ClassDef | cst.FunctionDef
    framework: str
    bodies: list[cst.FunctionDef] = field(default_factory=list)
    _nodes: dict[int, list[cst.CSTNode]] = field(default_factory=dict, repr=False)

    def body_nodes(self, body: cst.FunctionDef) -> list[cst.CSTNode]:
        """Every node of a body function in pre-order (memoised: several rules read it)."""
        nodes = self._nodes.get(id(body))
        if nodes is None:
            nodes = self._nodes[id(body)] = list(iter_body_nodes(body.body))
        return nodes


@dataclass
class Scope:
    """Names bound in one function (or the module), flow-insensitively."""

    parent: Scope | None = None
    class_name: str | None = None
    env: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)
    # The source-order number of each binding in `env`, in step with it.
    seqs: dict[str, list[int]] = field(default_factory=dict)
    params: dict[str, cst.BaseExpression | None] = field(default_factory=dict)
    loops: dict[str, cst.BaseExpression] = field(default_factory=dict)
    transactional: bool = False
    handler: bool = False
    # The module's binding count when this function was entered: the enclosing scope's
    # bindings up to it are the ones visible here.
    opened: int = 0
    # The function this scope is the body of (None for the module).
    node: cst.FunctionDef | None = None
    # `cache[a][b] = value`: per container name, the subscript depth and the value stored.
    stores: dict[str, list[tuple[int, cst.BaseExpression]]] = field(default_factory=dict)

    def bind(self, name: str, value: cst.BaseExpression, seq: int = 0) -> None:
        """Record an assignment `name = value`, the `seq`-th binding of the module."""
        self.env.setdefault(name, []).append(value)
        self.seqs.setdefault(name, []).append(seq)

    def bindings(
        self, name: str, before: int | None = None
    ) -> list[tuple[cst.BaseExpression, int]]:
        """The values `name` may hold: every binding, or only the last one before `before`."""
        pairs = list(zip(self.env.get(name, []), self.seqs.get(name, []), strict=True))
        if before is None:
            return pairs
        earlier = [p for p in pairs if p[1] < before]
        # Nothing bound before: a loop's earlier iteration, so any binding may reach here.
        return earlier[-1:] or pairs


@dataclass
class Enqueue:
    """An enqueue call site and the context it runs in."""

    call: cst.Call
    framework: str
    job: str | None
    args: tuple[cst.BaseExpression, ...]
    scope: Scope
    in_transaction: bool
    on_commit: bool
    seq: int = 0
    # The nodes the walk passed through from the module down to the call, outermost first:
    # rules that depend on what encloses a call read it instead of walking the tree again.
    path: tuple[cst.CSTNode, ...] = ()


@dataclass
class FileFacts:
    """Everything the rules need about one module."""

    module: cst.Module
    resolver: NameResolver
    index: ProjectIndex
    module_scope: Scope
    jobs: list[JobDef] = field(default_factory=list)
    enqueues: list[Enqueue] = field(default_factory=list)
    emails: list[tuple[cst.Call, Scope]] = field(default_factory=list)
    own_jobs: dict[str, str] = field(default_factory=dict)
    # The module's binding count at each `for` statement (by node id): the bindings a loop
    # sees are the ones numbered up to it.
    for_seqs: dict[int, int] = field(default_factory=dict)
    # Calls of a plain name (`notify(order)`), with the scope they are made in and the binding
    # count before them: what this module passes to its own functions' parameters.
    calls: dict[str, list[tuple[cst.Call, Scope, int]]] = field(default_factory=dict)
    # What each top-level import binds, by node id, from the module's summary.
    bound: dict[int, tuple[tuple[str, str], ...]] = field(default_factory=dict, repr=False)
    _functions: dict[str, cst.FunctionDef] | None = field(default=None, repr=False)

    def module_functions(self) -> dict[str, cst.FunctionDef]:
        """The module-level functions by name (memoised: every job's helpers are looked up)."""
        if self._functions is None:
            self._functions = {
                stmt.name.value: stmt for stmt in self.module.body
                if type(stmt) is cst.FunctionDef
            }
        return self._functions
