"""Reported spans line up with the source, including where field order differs from source."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from jobkit_lint import Finding, Rule, Violation, lint_paths, lint_source
from jobkit_lint.engine import lint_parsed, parse
from jobkit_lint.facts import FileFacts
from jobkit_lint.index import ProjectIndex
from jobkit_lint.positions import PositionMap
from jobkit_lint.workers import syntax_error

from .helpers import FIXTURES, write_tree


def lint(source: str) -> list[Finding]:
    return lint_source(textwrap.dedent(source), path="example.py")


def test_argument_span_points_at_the_offending_value() -> None:
    source = """\
        from shop.models import Order
        from shop.tasks import ship

        def view(order: Order):
            ship.apply_async(args=(1, [order]), kwargs={"order": order})
    """
    line = textwrap.dedent(source).splitlines()[4]
    spans = [(f.line, f.column, f.end_line, f.end_column) for f in lint(source)]
    second = line.index("order", line.index("kwargs=") + len('kwargs={"order"')) + 1
    assert spans == [(5, line.index("order") + 1, 5, line.index("order") + 6),
                     (5, second, 5, second + 5)]


def test_call_numbering_survives_conditional_expressions_and_defaults() -> None:
    # IfExp stores `test` before `body` and FunctionDef stores `body` before `decorators`.
    source = """\
        from django.db import transaction
        from shop.tasks import ship

        @transaction.atomic(using=pick())
        def checkout(order_id, retries=compute()):
            value = first() if check() else other()
            ship.delay(order_id)
    """
    (finding,) = lint(source)
    assert (finding.code, finding.line, finding.column) == ("JK402", 7, 5)
    assert finding.end_column == len("    ship.delay(order_id)") + 1


def test_columns_count_characters_not_utf8_bytes() -> None:
    source = """\
        from shop.models import Order
        from shop.tasks import ship

        def view(order: Order):
            ship.delay("café", "naïve", order)
    """
    (finding,) = lint(source)
    line = textwrap.dedent(source).splitlines()[4]
    assert line[finding.column - 1 : finding.end_column - 1] == "order"


def test_class_level_finding_spans_the_class_name() -> None:
    source = """\
        import jobkit

        class RenameJob(jobkit.Job):
            def perform(self, user_id, name):
                User.find(user_id).update(name=name)
    """
    (finding,) = lint(source)
    assert (finding.code, finding.line, finding.column, finding.end_column) == (
        "JK202", 3, 1, len("class RenameJob") + 1
    )


def test_except_handler_span_runs_to_the_end_of_its_line() -> None:
    source = """\
        import dramatiq

        @dramatiq.actor
        def sync(account_id):
            try:
                account_id.refresh()
            except Exception as error:   # trailing words
                pass
    """
    (finding,) = lint(source)
    line = textwrap.dedent(source).splitlines()[6]
    assert (finding.code, finding.line, finding.column, finding.end_column) == (
        "JK301", 7, line.index("except") + 1, len(line) + 1
    )


def test_crlf_and_lone_cr_newlines_count_as_libcst_counts_them() -> None:
    source = (
        "from shop.models import Order\r\nfrom shop.tasks import ship\r\n\r\n"
        "def view(order: Order):\r    x = 1\r\n    ship.delay(order)\r\n"
    )
    (finding,) = lint_source(source, path="example.py")
    assert (finding.line, finding.column, finding.end_column) == (6, 16, 21)


CORPUS = [
    *sorted((Path(__file__).parents[2] / "jobkit_lint").rglob("*.py")),
    *sorted(FIXTURES.rglob("*.py")),
]


def _all_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    found = [node]
    for child in node.children:
        found.extend(_all_nodes(child))
    return found


def test_every_node_span_equals_libcst_position_provider() -> None:
    checked = 0
    for path in CORPUS:
        source = path.read_bytes().decode("utf-8", errors="strict") if path.name != "latin1.py" \
            else None
        if source is None or path.name == "syntax_error.py":
            continue
        tree = cst.parse_module(source)
        expected = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
        nodes = [n for n in _all_nodes(tree)
                 if not isinstance(n, cst.FunctionDef | cst.ClassDef | cst.ExceptHandler)]
        positions = PositionMap(source, tree, nodes)
        for node in nodes:
            where = expected[node]
            assert positions.span(node) == (
                where.start.line, where.start.column + 1, where.end.line, where.end.column + 1
            ), (path, type(node).__name__)
            checked += 1
    assert checked > 50_000


def test_modern_syntax_is_linted_with_exact_positions_on_any_python(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # PEP 695 generics, PEP 701 f-strings, PEP 758 `except A, B:` and PEP 750 t-strings: the
    # interpreter running this test may reject them all; libcst parses them.
    shutil.copytree(FIXTURES / "modern", tmp_path / "modern")
    monkeypatch.chdir(tmp_path / "modern")
    report = lint_paths(["."], use_cache=False, jobs=1)
    assert [(f.path, f.line, f.column, f.end_column, f.code) for f in report] == [
        ("app/tasks.py", 14, 5, 22, "JK301"),
        ("app/tasks.py", 18, 5, 22, "JK301"),
        ("app/tasks.py", 25, 16, 21, "JK101"),
        ("app/tasks.py", 25, 38, 43, "JK101"),
    ]
    # __init__.py, helpers.py and templates.py name no framework: only the syntax check ran.
    assert report.stats.skipped == 3


def test_block_suppression_on_a_generic_def_covers_its_body() -> None:
    source = (FIXTURES / "modern" / "app" / "tasks.py").read_text(encoding="utf-8")
    silenced = source.replace("def ship[T](order_id: T) -> T:",
                              "def ship[T](order_id: T) -> T:  # jobkit-lint: ignore[JK301]")
    found = lint_source(silenced, path="tasks.py", module="app.tasks",
                        warn_unused_ignores=True)
    assert [f.code for f in found] == ["JK101", "JK101"]


def test_syntax_check_defers_to_libcst_when_compile_rejects_a_file() -> None:
    assert syntax_error("new.py", "type Pair[T] = tuple[T, T]\n") is None
    assert syntax_error("ok.py", "def f():\n    return 1\n") is None
    # compile() refuses `return` outside a function; libcst parses it, so it is not JK000.
    assert syntax_error("odd.py", "return 1\n") is None
    broken = syntax_error("bad.py", "x = 1\n\n\ndef broken(:\n    pass\n")
    assert broken is not None
    # libcst's position: the native parser blames the token after the stray colon.
    assert (broken.code, broken.line, broken.column) == ("JK000", 5, 1)
    assert broken.message == "cannot parse: expected one of ), *, **, NAME"


def test_unparsable_file_spared_by_the_prefilter_is_jk000_at_libcsts_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_tree(tmp_path, {
        "pyproject.toml": "",
        "plain.py": "x = 1\n\n\ndef broken(:\n    pass\n",
        "tasks.py": "from celery import shared_task\n\nx = (\n",
    })
    monkeypatch.chdir(tmp_path)
    report = lint_paths(["."], use_cache=False, jobs=1)
    assert [(f.path, f.line, f.code) for f in report] == [
        ("plain.py", 5, "JK000"), ("tasks.py", 3, "JK000"),
    ]


def test_a_node_outside_the_tree_is_placed_at_its_anchor_call() -> None:
    class MadeUp(Rule):
        """Reports a node it built itself, anchored at the enqueue."""

        CODE, NAME, MESSAGE = "JK999", "made-up", "made up"
        VALID, INVALID = ("x = 1\n",), ("x = 1\n",)

        def check(self, facts: FileFacts) -> Iterator[Violation]:
            for enqueue in facts.enqueues:
                yield Violation(cst.Name("synthetic"), anchor=enqueue.call)

    source = "from shop.tasks import ship\n\n\ndef view(order_id):\n    ship.delay(order_id)\n"
    parsed = parse("x.py", source, module="x", is_package=False)
    (finding,) = lint_parsed(parsed, ProjectIndex([parsed.summary]), [MadeUp])
    assert (finding.line, finding.column, finding.end_line, finding.end_column) == (5, 5, 5, 25)
    positions = PositionMap(source, cst.parse_module(source), [])
    with pytest.raises(KeyError, match="no position was computed for Name"):
        positions.span(cst.Name("elsewhere"))


def test_a_call_built_from_tree_nodes_spans_them() -> None:
    # The analysis reads `partial(ship.delay, order)` as the enqueue `ship.delay(order)`.
    source = "from functools import partial\n\ncallback = partial(ship.delay, order, 2)\n"
    tree = cst.parse_module(source)
    real = tree.body[1].body[0].value  # type: ignore[attr-defined]
    built = cst.Call(func=real.args[0].value, args=real.args[1:])
    positions = PositionMap(source, tree, [built, *built.children])
    assert built in positions
    assert positions.span(built) == (3, 20, 3, 40)
    assert positions.text(built) == "ship.delay, order, 2"


def test_findings_inside_every_kind_of_compound_statement_are_positioned() -> None:
    source = textwrap.dedent("""\
        from shop.models import Order
        from shop.tasks import ship

        def view(order: Order, kind):
            match kind:
                case "a":
                    ship.delay(order)
                case _:
                    pass
            try:
                pass
            except* ValueError:
                ship.delay(order)
            else:
                ship.delay(order)
            finally:
                ship.delay(order)
            while kind:
                break
            else:
                ship.delay(order)
    """)
    found = lint_source(source, path="x.py", warn_unused_ignores=True)
    assert [(f.line, f.code) for f in found] == [
        (7, "JK101"), (13, "JK101"), (15, "JK101"), (17, "JK101"), (21, "JK101"),
    ]
    # The same statement in the same function: one key, which a baseline counts five times.
    assert len({f.fingerprint for f in found}) == 1


class _Everything(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.nodes.append(node)
        return True


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_placing_from_the_end_agrees_with_generating_the_whole_module(
    newline: str, bom: str
) -> None:
    source = bom + newline.join([
        "# header comment", "import os", "", "", "@decorator", "def view(request):",
        "    # inside", "    return ship.delay(request.user, {1, 2})", "", "",
        "class Job(Base):", "    x: int = f(  1,", "  2)", "", "# footer comment", "",
    ])
    tree = cst.parse_module(source)
    everything = _Everything()
    tree.visit(everything)
    nodes = everything.nodes[1:]  # the module itself is never a finding
    whole = PositionMap(source, tree, nodes, statements=True)
    from_end = PositionMap(source, tree, nodes, statements=True, whole=False)
    assert from_end.offsets == whole.offsets
    assert [(id(s), scope) for s, scope in from_end.statements] == [
        (id(s), scope) for s, scope in whole.statements]
    assert len(whole.offsets) > len(nodes) // 2
    # Only the last statement is generated when the findings are all in it.
    last = tree.body[-1]
    partial = PositionMap(source, tree, [last], statements=True, whole=False)
    assert id(tree.body[0]) not in partial.offsets
    assert partial.span(last) == whole.span(last)
    assert partial.context(last) == whole.context(last)
