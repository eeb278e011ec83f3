"""A light per-module import map: local names to qualified names, without libcst metadata.

libcst's QualifiedNameProvider builds full scopes and costs more than parsing; job code only
needs "which module did this name come from", which the import statements answer.
"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

__all__ = ["NameResolver", "dotted_name", "import_bindings"]


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    # Exact type checks: isinstance() against a libcst class that does not match goes through
    # ABCMeta.__instancecheck__, ten times slower, and this runs on most expressions of a job.
    # No libcst node class used here has subclasses.
    parts: list[str] = []
    while type(node) is cst.Attribute:
        parts.append(node.attr.value)
        node = node.value
    if type(node) is not cst.Name:
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _module_of(node: cst.BaseExpression | None) -> str:
    return (dotted_name(node) or "") if node is not None else ""


def import_bindings(
    stmt: cst.Import | cst.ImportFrom, *, module: str, is_package: bool
) -> Iterable[tuple[str, str]]:
    """(local name, qualified name) pairs an import statement binds."""
    if isinstance(stmt, cst.Import):
        for alias in stmt.names:
            full = _module_of(alias.name)
            if alias.asname is not None and type(alias.asname.name) is cst.Name:
                yield alias.asname.name.value, full
            else:
                head = full.split(".", 1)[0]
                yield head, head
        return
    base = _module_of(stmt.module)
    if stmt.relative:
        package = module.split(".") if is_package else module.split(".")[:-1]
        keep = len(package) - (len(stmt.relative) - 1)
        base = ".".join([*package[: max(keep, 0)], *([base] if base else [])])
    if isinstance(stmt.names, cst.ImportStar):
        return
    for alias in stmt.names:
        name = _module_of(alias.name)
        local = name
        if alias.asname is not None and type(alias.asname.name) is cst.Name:
            local = alias.asname.name.value
        yield local, f"{base}.{name}" if base else name


class NameResolver:
    """Turns `Name`/`Attribute` chains into qualified names through the module's imports."""

    __slots__ = ("imports", "is_package", "locals", "module")

    def __init__(
        self,
        module: str,
        imports: dict[str, str],
        local_names: Iterable[str],
        *,
        is_package: bool = False,
    ) -> None:
        self.module = module
        self.is_package = is_package
        self.imports = imports
        self.locals = set(local_names)

    def qualify_dotted(self, dotted: str) -> str:
        """Qualify a dotted string; names neither imported nor defined here stay as written."""
        head, dot, rest = dotted.partition(".")
        if head in self.imports:
            base = self.imports[head]
        elif head in self.locals:
            base = f"{self.module}.{head}" if self.module else head
        else:
            return dotted
        return base + dot + rest

    def qualify(self, node: cst.BaseExpression) -> str | None:
        """The qualified name of a Name/Attribute chain (a call's callee, a base class…)."""
        dotted = dotted_name(node)
        return None if dotted is None else self.qualify_dotted(dotted)
