"""Per-module facts for the project-wide index, read from top-level statements only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from jobkit_lint.names import NameResolver, dotted_name, import_bindings

__all__ = ["ModuleSummary", "decorator_framework", "summarize"]


@dataclass
class ModuleSummary:
    """What other modules may need to know about one module; JSON-serialisable for the cache."""

    module: str
    is_package: bool = False
    imports: dict[str, str] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)
    functions: list[str] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)
    assigns: dict[str, str] = field(default_factory=dict)

    def resolver(self) -> NameResolver:
        """A name resolver seeded with this module's imports and top-level definitions."""
        local = [*self.classes, *self.functions, *self.assigns]
        return NameResolver(self.module, dict(self.imports), local, is_package=self.is_package)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the cache."""
        return {
            "module": self.module, "is_package": self.is_package, "imports": self.imports,
            "classes": self.classes, "functions": self.functions, "jobs": self.jobs,
            "assigns": self.assigns,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModuleSummary:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _callee(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.func if isinstance(node, cst.Call) else node


def decorator_framework(
    qualified: str, receiver_assign: str | None, receiver_name: str
) -> str | None:
    """The job framework a decorator's qualified name implies (`celery.shared_task` → celery)."""
    last = qualified.rsplit(".", 1)[-1]
    if qualified in {"jobkit.job", "jobkit.decorators.job"} or (
        qualified.startswith("jobkit.") and last == "job"
    ):
        return "jobkit"
    if last == "shared_task" and qualified.startswith("celery"):
        return "celery"
    if last == "actor" and qualified.startswith("dramatiq"):
        return "dramatiq"
    if last in {"task", "periodic_task", "db_task", "db_periodic_task"} and "." in qualified:
        hueyish = (receiver_assign or "").startswith("huey") or "huey" in receiver_name.lower()
        return "huey" if hueyish else "celery"
    return None


def _iter_top_level(body: Any) -> Any:
    """Top-level statements, looking inside `if`/`try` blocks where imports often hide."""
    for stmt in body:
        if isinstance(stmt, cst.If | cst.Try):
            yield from _iter_top_level(stmt.body.body)
            orelse = stmt.orelse if isinstance(stmt, cst.If) else None
            if isinstance(orelse, cst.Else):
                yield from _iter_top_level(orelse.body.body)
            if isinstance(stmt, cst.Try):
                for handler in stmt.handlers:
                    yield from _iter_top_level(handler.body.body)
        else:
            yield stmt


def summarize(module: cst.Module, *, name: str, is_package: bool) -> ModuleSummary:
    """Collect imports, classes, functions, simple assignments and job definitions."""
    summary = ModuleSummary(module=name, is_package=is_package)
    deferred: list[cst.FunctionDef | cst.ClassDef] = []
    for stmt in _iter_top_level(module.body):
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Import | cst.ImportFrom):
                    summary.imports.update(
                        import_bindings(small, module=name, is_package=is_package)
                    )
                elif isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                    callee = dotted_name(small.value.func)
                    for target in small.targets:
                        if isinstance(target.target, cst.Name) and callee:
                            summary.assigns[target.target.value] = callee
        elif isinstance(stmt, cst.FunctionDef):
            summary.functions.append(stmt.name.value)
            deferred.append(stmt)
        elif isinstance(stmt, cst.ClassDef):
            summary.classes[stmt.name.value] = []
            deferred.append(stmt)
    resolver = summary.resolver()
    # Assignments are qualified only now, once every import above and below them is known.
    summary.assigns = {k: resolver.qualify_dotted(v) for k, v in summary.assigns.items()}
    for node in deferred:
        if isinstance(node, cst.ClassDef):
            bases = [resolver.qualify(arg.value) for arg in node.bases if arg.keyword is None]
            summary.classes[node.name.value] = [b for b in bases if b]
            continue
        for decorator in node.decorators:
            decorated = _callee(decorator.decorator)
            qualified = resolver.qualify(decorated)
            if qualified is None:
                continue
            receiver = decorated.value if isinstance(decorated, cst.Attribute) else None
            receiver_name = dotted_name(receiver) if receiver is not None else None
            framework = decorator_framework(
                qualified,
                summary.assigns.get(receiver_name or ""),
                receiver_name or "",
            )
            if framework:
                summary.jobs[node.name.value] = framework
                break
    return summary
