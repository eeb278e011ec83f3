"""Reported spans line up with the source, including where field order differs from source."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst

from jobkit_lint import Finding, lint_source
from jobkit_lint.analysis import analyze
from jobkit_lint.index import ProjectIndex
from jobkit_lint.positions import PositionMap
from jobkit_lint.summary import summarize


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
    # IfExp stores `test` before `body` and FunctionDef stores `body` before `decorators`;
    # the walker must still count calls in source order to match `ast`.
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


CORPUS = [
    *sorted((Path(__file__).parents[2] / "jobkit_lint").rglob("*.py")),
    Path(__file__).parent / "fixtures" / "crossmodule" / "shop" / "views.py",
    Path(__file__).parent / "fixtures" / "broken" / "tasks.py",
]


def test_every_call_is_matched_with_the_ast_call_at_the_same_place() -> None:
    checked = 0
    for path in CORPUS:
        source = path.read_text(encoding="utf-8")
        tree = cst.parse_module(source)
        summary = summarize(tree, name="m", is_package=False)
        facts = analyze(tree, summary.resolver(), ProjectIndex([summary]))
        positions = PositionMap(source, tree, facts.ordinals)
        lines = source.split("\n")
        for call in (n for n in _all_nodes(tree) if isinstance(n, cst.Call)):
            span = positions.span(call)
            head = tree.code_for_node(call.func).strip().split("\n")[0]
            assert lines[span.line - 1][span.column - 1 :].startswith(head), (path, span)
            checked += 1
    assert checked > 500


def _all_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    found = [node]
    for child in node.children:
        found.extend(_all_nodes(child))
    return found
