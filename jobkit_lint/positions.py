"""Line/column spans of libcst nodes, from one cheap code generation of the module.

libcst's `PositionProvider` tracks the line and column after every token of every node, which
costs about two parses. A parsed module regenerates its source exactly, so it is enough to
note the token count where each *wanted* node starts and ends, and to turn token counts into
character offsets (one prefix sum) and offsets into lines (one bisect) afterwards. Nothing
comes from the running interpreter's `ast`, so a file libcst parses is positioned whatever
Python runs the linter.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import NamedTuple

import libcst as cst
from libcst._nodes.internal import CodegenState

__all__ = ["BlockLines", "PositionMap", "Span"]

# libcst's own newline rule (Python's too): \r\n, a lone \r or \n.
_NEWLINE = re.compile(r"\r\n?|\n")
_DEFS = (cst.FunctionDef, cst.ClassDef)
_HANDLERS = (cst.ExceptHandler, cst.ExceptStarHandler)


class Span(NamedTuple):
    """1-based start and end positions; `end_column` is one past the last character."""

    line: int
    column: int
    end_line: int
    end_column: int


class BlockLines(NamedTuple):
    """The lines of a `def` or `class`: first decorator, end of its header, last line."""

    first: int
    header_end: int
    last: int


@dataclass
class _MarkingState(CodegenState):
    """Code generation that notes token counts at the bounds of wanted nodes only."""

    wanted: set[int] = field(default_factory=set)
    marks: dict[int, tuple[int, int]] = field(default_factory=dict)
    opened: dict[int, int] = field(default_factory=dict)

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.wanted:
            self.opened[id(node)] = len(self.tokens)

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        start = self.opened.pop(key, None)
        # The syntactic bounds, recorded inside, exclude owned whitespace: they win.
        if start is not None and key not in self.marks:
            self.marks[key] = (start, len(self.tokens))

    # Not a generator context manager as in libcst: codegen enters this once per node, and
    # for the nodes nobody asked about a shared do-nothing object costs a fraction of one.
    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _Nothing | _Recording:
        if id(node) not in self.wanted:
            return _NOTHING
        return _Recording(self, node, start_node, end_node)


class _Nothing:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NOTHING = _Nothing()


class _Recording:
    """Notes a wanted node's syntactic bounds, as PositionProvider takes them."""

    __slots__ = ("end_node", "node", "start", "start_node", "state")

    def __init__(self, state: _MarkingState, node: cst.CSTNode,
                 start_node: cst.CSTNode | None, end_node: cst.CSTNode | None) -> None:
        self.state, self.node = state, node
        self.start_node, self.end_node = start_node, end_node
        self.start = 0

    def __enter__(self) -> None:
        # Like PositionProvider, take bounds hoisted from children (generated inside).
        for hoisted in (self.start_node, self.end_node):
            if hoisted is not None:
                self.state.wanted.add(id(hoisted))
        self.start = len(self.state.tokens)

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is not None:
            return
        marks = self.state.marks
        start, end = self.start, len(self.state.tokens)
        if self.start_node is not None and id(self.start_node) in marks:
            start = marks[id(self.start_node)][0]
        if self.end_node is not None and id(self.end_node) in marks:
            end = marks[id(self.end_node)][1]
        marks[id(self.node)] = (start, end)


def _statements(
    root: cst.Module | cst.BaseStatement,
) -> Iterator[tuple[cst.BaseStatement, tuple[str, ...]]]:
    """Every statement of a module (or a top-level statement and those inside it), outermost
    first, with the names of the defs and classes around it."""
    stack: list[tuple[cst.CSTNode, tuple[str, ...]]] = [(root, ())]
    while stack:
        current, scope = stack.pop()
        if isinstance(current, cst.BaseStatement):
            yield current, scope
        inner = (*scope, current.name.value) if isinstance(current, _DEFS) else scope
        # Statements only live in statement bodies, so expressions need no visit.
        if isinstance(current, cst.Module | cst.IndentedBlock):
            stack.extend((child, inner) for child in reversed(current.body))
        elif isinstance(current, cst.BaseCompoundStatement | cst.Else | cst.ExceptHandler
                        | cst.ExceptStarHandler | cst.Finally | cst.MatchCase):
            children: list[cst.CSTNode] = []
            for extra in ("body", "handlers", "cases", "orelse", "finalbody"):
                value = getattr(current, extra, None)
                if isinstance(value, tuple):
                    children.extend(value)
                elif isinstance(value, cst.CSTNode):
                    children.append(value)
            stack.extend((child, inner) for child in reversed(children))


def _parts(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The nodes whose bounds a node's span or block lines are computed from."""
    if isinstance(node, _DEFS):
        parts: list[cst.CSTNode] = [node, node.name, *node.decorators]
        body = node.body
        if type(body) is cst.IndentedBlock and body.body:
            parts.append(body.body[0])
        return parts
    return [node]


class PositionMap:
    """Spans of the given nodes of `module` (whose code is `source`), computed at once.

    With `statements`, the statements are positioned too, for :meth:`context`: all of them
    when `whole` (for :meth:`blocks`), else those of the top-level statements generated.
    """

    def __init__(self, source: str, module: cst.Module, nodes: Iterable[cst.CSTNode], *,
                 statements: bool = False, whole: bool = True) -> None:
        self.source = source
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(source)]
        self.statements: list[tuple[cst.BaseStatement, tuple[str, ...]]] = []
        wanted: set[int] = set()
        needed = {id(node) for node in nodes}
        for node in nodes:
            wanted.update(id(part) for part in _parts(node))
        self.offsets: dict[int, tuple[int, int]] = {}
        if whole or not module.has_trailing_newline or not self._from_end(
                source, module, wanted, needed, statements=statements):
            self.statements = list(_statements(module)) if statements else []
            for statement, _scope in self.statements:
                wanted.update(id(part) for part in _parts(statement))
            self._whole(source, module, wanted)

    def _state(self, module: cst.Module, wanted: set[int]) -> _MarkingState:
        return _MarkingState(default_indent=module.default_indent,
                             default_newline=module.default_newline, wanted=wanted)

    def _whole(self, source: str, module: cst.Module, wanted: set[int]) -> None:
        state = self._state(module, wanted)
        module._codegen(state)
        # libcst drops a byte-order mark from the code it regenerates; the source keeps it.
        bom = 1 if source.startswith("\ufeff") else 0
        self._place(state, bom)

    def _place(self, state: _MarkingState, base: int) -> None:
        offsets = list(accumulate(map(len, state.tokens), initial=base))
        self.offsets.update(
            {key: (offsets[a], offsets[b]) for key, (a, b) in state.marks.items()})

    def _from_end(self, source: str, module: cst.Module, wanted: set[int],
                  needed: set[int], *, statements: bool) -> bool:
        """Generate the footer and then top-level statements from the last one back, until
        every node in `needed` is placed: findings cluster in few statements, and the code
        a statement generates does not depend on the ones before it. The module ends with
        the source (a trailing newline is kept), so each statement's offset is what is left
        of the source before it. False when some node was never placed (a node the analysis
        built is placed by its children, which `needed` holds too): generate it all."""
        end = len(source)
        footer = self._state(module, wanted)
        for line in module.footer:
            line._codegen(footer)
        end -= sum(map(len, footer.tokens))
        placed: set[int] = set()
        # The statements inside each generated one, last first: kept in source order.
        inner: list[list[tuple[cst.BaseStatement, tuple[str, ...]]]] = []
        for statement in reversed(module.body):
            inner.append(list(_statements(statement)) if statements else [])
            wanted.update(id(part) for s, _scope in inner[-1] for part in _parts(s))
            state = self._state(module, wanted)
            statement._codegen(state)
            end -= sum(map(len, state.tokens))
            self._place(state, end)
            placed.update(key for key in state.marks if key in needed)
            if len(placed) == len(needed):
                self.statements = [s for chunk in reversed(inner) for s in chunk]
                return True
        self.offsets.clear()
        return False

    def __contains__(self, node: object) -> bool:
        return isinstance(node, cst.CSTNode) and self._range(node) is not None

    def blocks(self) -> list[BlockLines]:
        """The lines of every def and class (needs `statements`), for block suppressions."""
        return [b for node, _scope in self.statements
                if isinstance(node, _DEFS) and (b := self.block(node)) is not None]

    def context(self, node: cst.CSTNode) -> tuple[tuple[str, ...], str]:
        """The enclosing def/class names and the text of the innermost statement holding
        `node` — a compound statement's first line only (needs `statements`)."""
        bounds = self._range(node)
        best: tuple[cst.BaseStatement, tuple[str, ...], int, int] | None = None
        offsets = self.offsets
        for statement, scope in self.statements:
            # A statement is a tree node: it has a place of its own or was not generated.
            outer = offsets.get(id(statement))
            if bounds is None or outer is None or not (outer[0] <= bounds[0] <= bounds[1]
                                                       <= outer[1]):
                continue
            if best is None or outer[1] - outer[0] <= best[3] - best[2]:
                best = (statement, scope, *outer)
        if best is None:
            return (), self.source[bounds[0]:bounds[1]] if bounds else ""
        statement, scope, start, end = best
        if isinstance(statement, cst.BaseCompoundStatement):
            line = self._line(start)
            end = min(end, self.starts[line] if line < len(self.starts) else end)
        return scope, self.source[start:end]

    def text(self, node: cst.CSTNode) -> str:
        """The source of the reported span of `node`."""
        span = self.span(node)
        start = self.starts[span.line - 1] + span.column - 1
        return self.source[start:self.starts[span.end_line - 1] + span.end_column - 1]

    def _point(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def _range(self, node: cst.CSTNode) -> tuple[int, int] | None:
        bounds = self.offsets.get(id(node))
        if bounds is None:
            # A node built by the analysis (`partial(task.delay, x)` read as `task.delay(x)`)
            # is not in the tree, but its children are: it spans them.
            parts = [self.offsets[id(c)] for c in node.children if id(c) in self.offsets]
            if parts:
                bounds = (min(p[0] for p in parts), max(p[1] for p in parts))
        return bounds

    def _line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def span(self, node: cst.CSTNode) -> Span:
        """The reported span: a def or class from its keyword to its name, an except
        handler to the end of its line, anything else its own syntactic bounds."""
        bounds = self._range(node)
        if bounds is None:
            raise KeyError(f"no position was computed for {type(node).__name__}")
        start, end = bounds
        if isinstance(node, _DEFS):
            name = self._range(node.name)
            end = name[1] if name else end
        elif isinstance(node, _HANDLERS):
            line = self._line(start)
            stop = self.starts[line] if line < len(self.starts) else len(self.source)
            end = start + len(self.source[start:stop].rstrip())
        line, column = self._point(start)
        end_line, end_column = self._point(max(start, end))
        return Span(line, column, end_line, end_column)

    def block(self, node: cst.FunctionDef | cst.ClassDef) -> BlockLines | None:
        """The lines a block suppression on this def or class header covers."""
        bounds = self._range(node)
        if bounds is None:
            return None
        header = self._line(bounds[0])
        first = min([header, *(self._line(r[0]) for d in node.decorators
                               if (r := self._range(d)) is not None)])
        body = node.body
        first_statement = self._range(body.body[0]) if isinstance(
            body, cst.IndentedBlock) and body.body else None
        header_end = max(header, self._line(first_statement[0]) - 1) if first_statement \
            else header
        return BlockLines(first, header_end, self._line(max(bounds[0], bounds[1] - 1)))
