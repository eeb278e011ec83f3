"""Line/column spans for violations, computed with `ast` only for files that have findings.

libcst's PositionProvider re-generates the whole module and costs several times a parse.
Instead the walker numbers every call, def, class and except handler in source order, and
the n-th such libcst node is matched with the n-th `ast` node of the same kind.
"""

from __future__ import annotations

import ast
import bisect
from typing import NamedTuple

import libcst as cst

__all__ = ["PositionMap", "Span"]

_Located = ast.stmt | ast.expr | ast.excepthandler
_AST_KINDS: dict[str, tuple[type[_Located], ...]] = {
    "call": (ast.Call,),
    "def": (ast.FunctionDef, ast.AsyncFunctionDef),
    "class": (ast.ClassDef,),
    "except": (ast.ExceptHandler,),
}


class Span(NamedTuple):
    """1-based start and end positions."""

    line: int
    column: int
    end_line: int
    end_column: int


def _cst_path(root: cst.CSTNode, target: cst.CSTNode) -> list[tuple[str, int]] | None:
    """Steps from a call down to `target` through arguments and literal containers."""
    if root is target:
        return []
    children: list[tuple[tuple[str, int], cst.CSTNode]] = []
    if isinstance(root, cst.Call):
        positional = keyword = 0
        for arg in root.args:
            if arg.keyword is None and arg.star != "**":
                children.append((("args", positional), arg.value))
                positional += 1
            else:
                children.append((("keywords", keyword), arg.value))
                keyword += 1
    elif isinstance(root, cst.List | cst.Tuple | cst.Set):
        children = [(("elts", i), e.value) for i, e in enumerate(root.elements)]
    elif isinstance(root, cst.Dict):
        children = [(("values", i), e.value) for i, e in enumerate(root.elements)]
    for step, child in children:
        rest = _cst_path(child, target)
        if rest is not None:
            return [step, *rest]
    return None


def _ast_follow(node: _Located, steps: list[tuple[str, int]]) -> _Located | None:
    """Follow `_cst_path` steps through the matching `ast` fields."""
    current: object = node
    for field, number in steps:
        items = getattr(current, field, None)
        if not isinstance(items, list) or number >= len(items):
            return None
        current = items[number]
        if isinstance(current, ast.keyword):
            current = current.value
        if isinstance(current, ast.Starred):
            current = current.value
    return current if isinstance(current, ast.expr) else None


class PositionMap:
    """Finds the source span of libcst nodes through their anchor ordinals."""

    def __init__(self, source: str, module: cst.Module, ordinals: dict[int, tuple[str, int]]):
        self.source = source
        self.module = module
        self.ordinals = ordinals
        self.lines = source.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self._anchors: dict[str, list[_Located]] = {}
        try:
            self.tree: ast.Module | None = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError):
            self.tree = None  # libcst accepted it; positions degrade to line 1

    def _kind(self, kind: str) -> list[_Located]:
        if kind not in self._anchors:
            walked = ast.walk(self.tree) if self.tree else iter(())
            # mypy 1.10 widens the isinstance-filtered nodes back to ast.AST.
            found: list[_Located] = [
                n for n in walked if isinstance(n, _AST_KINDS[kind])]  # type: ignore[misc, unused-ignore]
            found.sort(key=lambda n: (n.lineno, n.col_offset, -(n.end_lineno or 0),
                                      -(n.end_col_offset or 0)))
            self._anchors[kind] = found
        return self._anchors[kind]

    def _column(self, line: int, byte_offset: int) -> int:
        # ast columns count UTF-8 bytes; reports count characters.
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="replace"))

    def _ast_for(self, node: cst.CSTNode) -> _Located | None:
        kind, number = self.ordinals.get(id(node), ("", -1))
        anchors = self._kind(kind) if kind else []
        return anchors[number] if 0 <= number < len(anchors) else None

    def _offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column

    def _from_offset(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def span(self, node: cst.CSTNode, anchor: cst.CSTNode | None = None) -> Span:
        """The span of `node`, found directly or by searching inside its anchor call."""
        target = self._ast_for(node)
        if target is not None:
            return self._anchor_span(target)
        outer = self._ast_for(anchor) if anchor is not None else None
        if outer is None:
            return Span(1, 1, 1, 1)
        fallback = self._anchor_span(outer)
        steps = _cst_path(anchor, node) if anchor is not None else None
        located = _ast_follow(outer, steps) if steps is not None else None
        if located is not None:
            return self._anchor_span(located)
        start_node = outer.func if isinstance(outer, ast.Call) else outer
        start = self._offset(
            start_node.end_lineno or 1,
            self._column(start_node.end_lineno or 1,
                         start_node.end_col_offset or 0),
        )
        end = self._offset(fallback.end_line, fallback.end_column - 1)
        text = self.module.code_for_node(node).strip()
        found = self.source.find(text, start, end) if text else -1
        if found < 0:
            return fallback
        line, column = self._from_offset(found)
        end_line, end_column = self._from_offset(found + len(text))
        return Span(line, column, end_line, end_column)

    def _anchor_span(self, node: _Located) -> Span:
        line = node.lineno
        column = self._column(line, node.col_offset)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            text = self.lines[line - 1]
            at = text.find(node.name, column)
            end = at + len(node.name) if at >= 0 else len(text.rstrip())
            return Span(line, column + 1, line, end + 1)
        if isinstance(node, ast.ExceptHandler):
            return Span(line, column + 1, line, len(self.lines[line - 1].rstrip()) + 1)
        end_line = node.end_lineno or line
        end_column = self._column(end_line, node.end_col_offset or 0)
        return Span(line, column + 1, end_line, end_column + 1)
