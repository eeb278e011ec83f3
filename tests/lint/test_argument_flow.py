"""JK101 through this module's calls and containers, and JK403 read down the walked path."""

from __future__ import annotations

import textwrap

from jobkit_lint import lint_source


def found(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint_source(textwrap.dedent(source), path="example.py")]


def test_a_model_passed_by_keyword_to_an_unannotated_parameter_is_found() -> None:
    assert found("""
        from shop.models import Order
        from shop.tasks import ship

        def ship_later(order, when):
            ship.apply_async(args=[order], eta=when)

        def view(order_id, when):
            ship_later(when=when, order=Order.objects.get(id=order_id))
    """) == [(6, "JK101")]


def test_a_position_after_star_args_is_not_attributed_to_a_parameter() -> None:
    assert found("""
        from shop.models import Order
        from shop.tasks import ship

        def ship_later(order_id, order):
            ship.delay(order)

        def view(ids):
            ship_later(*ids, Order.objects.get(id=ids[0]))
    """) == []


def test_a_method_parameter_is_not_followed_to_calls_of_the_same_name() -> None:
    assert found("""
        from shop.models import Order
        from shop.tasks import ship

        class Shipper:
            def send(self, order):
                ship.delay(order)

        def send(order):
            pass

        def view(order_id):
            send(Order.objects.get(id=order_id))
    """) == []


def test_a_container_read_at_another_depth_than_the_model_was_stored_is_not_a_model() -> None:
    assert found("""
        from shop.models import Order
        from shop.tasks import export

        def view(kinds):
            cache = {}
            for kind in kinds:
                cache[kind] = Order.objects.filter(kind=kind)
            export.delay(cache[kinds[0]])
            export.delay(list(cache))
    """) == [(9, "JK101")]


def test_keywords_followed_into_kwargs_stop_at_the_named_parameters() -> None:
    assert found("""
        import django_rq
        from shop.models import Order

        def enqueue_job(func, instance=None, **params):
            django_rq.get_queue("default").enqueue(func, **params)

        def view(order_id):
            order = Order.objects.get(id=order_id)
            enqueue_job("shop.work.ship", instance=order, note="x")
            enqueue_job("shop.work.ship", order=order)
    """) == [(11, "JK101")]


def test_a_module_level_literal_bound_before_the_function_is_a_small_loop() -> None:
    assert found("""
        from shop.tasks import rebuild

        REGIONS = ["eu", "us"]

        def rebuild_all():
            for region in REGIONS:
                rebuild.delay(region)
    """) == []


def test_a_literal_rebound_in_the_function_before_the_loop_no_longer_counts() -> None:
    assert found("""
        from shop.tasks import rebuild

        REGIONS = ["eu", "us"]

        def rebuild_all(more):
            REGIONS = more
            for region in REGIONS:
                rebuild.delay(region)
    """) == [(9, "JK403")]


def test_an_enqueue_in_a_loops_iterable_or_after_a_break_runs_once() -> None:
    assert found("""
        from shop.tasks import rebuild

        def rebuild_all(regions, batches):
            for batch in batches:
                for region in rebuild.delay(batch).get():
                    pass
            for region in regions:
                if region.primary:
                    rebuild.delay(region.id)
                    break
    """) == []
