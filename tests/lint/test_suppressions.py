"""`# noqa`, `# jobkit-lint: ignore[...]` and `--warn-unused-ignores`."""

from __future__ import annotations

import textwrap

from jobkit_lint import lint_source


def codes(source: str, *, warn: bool = False) -> list[tuple[int, str]]:
    found = lint_source(textwrap.dedent(source), path="x.py", warn_unused_ignores=warn)
    return [(f.line, f.code) for f in found]


def test_noqa_with_the_code_silences_that_line() -> None:
    assert codes("""
        from shop.models import Order
        from shop.tasks import ship

        def view(order: Order):
            ship.delay(order)  # noqa: JK101
            ship.delay(order)  # noqa: JK102
            ship.delay(order)  # noqa
    """) == [(7, "JK101")]


def test_block_ignore_on_a_def_line_covers_the_whole_body() -> None:
    source = """
        import jobkit

        class SyncJob(jobkit.Job):  # jobkit-lint: ignore[JK301]
            def perform(self, order_id):
                try:
                    push(order_id)
                except Exception:
                    pass

        class OtherJob(jobkit.Job):
            def perform(self, order_id):
                try:
                    push(order_id)
                except Exception:
                    pass
    """
    assert codes(source) == [(15, "JK301")]


def test_unused_suppressions_are_reported_only_when_asked() -> None:
    source = """
        def helper(order):  # jobkit-lint: ignore[JK201]
            return order  # noqa: JK101

        x = 1  # noqa: E501
    """
    assert codes(source) == []
    assert codes(source, warn=True) == [(2, "JK001"), (3, "JK001")]
