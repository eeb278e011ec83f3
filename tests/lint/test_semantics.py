"""Focused behaviour of the rules beyond their documented examples."""

from __future__ import annotations

import textwrap

from jobkit_lint import lint_source


def codes(source: str) -> list[str]:
    return [f.code for f in lint_source(textwrap.dedent(source), path="example.py")]


def test_model_instance_passed_to_delay_is_flagged() -> None:
    assert codes("""
        from shop.models import Order
        from shop.tasks import ship

        def view(order_id):
            ship.delay(Order.objects.get(id=order_id))
    """) == ["JK101"]


def test_model_inside_args_and_kwargs_of_apply_async_is_flagged() -> None:
    found = codes("""
        from shop.models import Order
        from shop.tasks import ship

        def view(order: Order):
            ship.apply_async(args=(1, [order]), kwargs={"order": order}, countdown=5)
    """)
    assert found == ["JK101", "JK101"]


def test_id_pk_and_plain_fields_of_a_model_are_fine() -> None:
    assert codes("""
        from shop.models import Order
        from shop.jobs import ShipJob

        def view(order: Order):
            ShipJob.perform_async(order.id, order.pk, str(order.uuid), {"email": order.email})
    """) == []


def test_loop_variable_over_a_queryset_is_a_model() -> None:
    assert codes("""
        from shop.models import Order
        from shop.jobs import ShipJob

        def nightly():
            for order in Order.objects.filter(paid=True):
                ShipJob.perform_async(order)
    """) == ["JK403", "JK101"]  # and one enqueue per row (JK403)


def test_self_inside_a_model_class_is_a_model() -> None:
    assert codes("""
        from django.db import models
        from shop.jobs import ShipJob

        class Order(models.Model):
            def ship(self):
                ShipJob.perform_async(self)
    """) == ["JK101"]


def test_sqlalchemy_session_lookups_and_configured_base_are_models() -> None:
    assert codes("""
        from sqlalchemy.orm import declarative_base
        from app.tasks import ship

        Base = declarative_base()

        class Order(Base):
            __tablename__ = "orders"

        def view(session, order_id):
            ship.delay(session.get(Order, order_id))
            ship.delay(session.query(Order).filter_by(id=order_id).first())
    """) == ["JK101", "JK101"]


def test_rq_function_argument_and_schedule_are_not_job_arguments() -> None:
    assert codes("""
        from datetime import timedelta
        from rq import Queue
        from app.work import resize

        queue = Queue()
        queue.enqueue_in(timedelta(minutes=5), resize, 42)
        queue.enqueue(resize, 42, job_timeout=30)
    """) == []


def test_unserializable_value_bound_to_a_name_is_traced() -> None:
    assert codes("""
        from datetime import datetime
        from app.jobs import ReportJob

        def run():
            when = datetime.now()
            ReportJob.perform_at(when, when)
    """) == ["JK102"]


def test_function_passed_as_a_job_argument_is_unserializable() -> None:
    assert codes("""
        from app.tasks import run

        def callback(result):
            return result

        run.delay(callback)
    """) == ["JK102"]


def test_guard_clause_and_service_call_are_not_business_logic() -> None:
    assert codes("""
        import dramatiq

        @dramatiq.actor
        def renew(subscription_id):
            if not subscription_id:
                return
            result = renew_subscription(subscription_id)
            if result.failure:
                raise result.error
    """) == []


def test_side_effects_in_branches_on_a_call_result_are_business_logic() -> None:
    assert codes("""
        import jobkit

        class RenewJob(jobkit.Job):
            def perform(self, subscription_id):
                response = gateway.status(subscription_id)
                if response.ok:
                    Subscription.objects.filter(id=subscription_id).update(active=True)
    """) == ["JK201"]


def test_broad_handler_that_reraises_is_fine_and_bare_except_is_not() -> None:
    assert codes("""
        from celery import shared_task

        @shared_task
        def ok(x):
            try:
                push(x)
            except BaseException:
                log()
                raise

        @shared_task
        def bad(x):
            try:
                push(x)
            except (ValueError, Exception):
                log()
    """) == ["JK301"]


def test_swallowed_exception_outside_a_job_is_not_reported() -> None:
    assert codes("""
        def helper(x):
            try:
                push(x)
            except Exception:
                pass
    """) == []


def test_enqueue_in_on_commit_inside_atomic_decorator_is_fine() -> None:
    assert codes("""
        from django.db import transaction
        from shop.tasks import ship

        @transaction.atomic
        def checkout(order):
            order.save()
            transaction.on_commit(lambda: ship.delay(order.id))
    """) == []


def test_email_in_management_command_and_job_is_not_flagged() -> None:
    assert codes("""
        from celery import shared_task
        from django.core.mail import send_mail
        from django.core.management.base import BaseCommand

        class Command(BaseCommand):
            def handle(self, *args, **options):
                send_mail("s", "b", "f@example.com", ["t@example.com"])

        @shared_task
        def welcome(address):
            send_mail("s", "b", "f@example.com", [address])
    """) == []


def test_fastapi_route_sending_smtp_mail_is_flagged() -> None:
    assert codes("""
        import smtplib
        from fastapi import APIRouter

        router = APIRouter()

        @router.post("/signup")
        def signup(email: str):
            with smtplib.SMTP("localhost") as server:
                server.sendmail("a@example.com", [email], "hi")
    """) == ["JK501"]  # one send, one finding: connecting is not sending


def test_huey_task_called_directly_is_an_enqueue() -> None:
    # huey pickles its payloads: a date travels fine, a lambda and a model do not.
    assert codes("""
        from datetime import date
        from huey import RedisHuey
        from shop.models import Order

        huey = RedisHuey()

        @huey.task()
        def report(day, order, key):
            return day

        def view(order_id):
            report(date.today(), Order.objects.get(id=order_id), lambda o: o.id)
    """) == ["JK101", "JK102"]


def test_arq_enqueue_job_skips_the_function_name_and_options() -> None:
    assert codes("""
        from decimal import Decimal

        async def main(redis):
            await redis.enqueue_job("charge", Decimal("1.0"), lambda: 1, _defer_by=lambda: 2)
    """) == ["JK102"]


def test_jobkit_set_and_perform_bulk_are_enqueues() -> None:
    assert codes("""
        from shop.models import Order
        from shop.jobs import ShipJob

        def ship_all(orders: list[Order], order: Order):
            ShipJob.set(queue="low").perform_async(order)
            ShipJob.perform_bulk([[order], [1]])
    """) == ["JK101", "JK101"]


def test_celery_signature_of_a_known_task_is_an_enqueue_and_unknown_s_is_not() -> None:
    assert codes("""
        from celery import shared_task
        from shop.models import Order

        @shared_task
        def ship(order_id):
            return order_id

        def chain(order: Order, other):
            ship.s(order)
            other.s(order)
    """) == ["JK101"]


def test_dramatiq_send_with_options_checks_args_but_not_delay() -> None:
    assert codes("""
        from datetime import timedelta
        import dramatiq

        @dramatiq.actor
        def refresh(account_id):
            return account_id

        refresh.send_with_options(args=({1},), delay=timedelta(seconds=5))
    """) == ["JK102"]


def test_partial_of_delay_outside_on_commit_is_not_an_enqueue() -> None:
    assert codes("""
        from functools import partial
        from django.db import transaction
        from shop.models import Order
        from shop.tasks import ship

        def view(order_id):
            order = Order.objects.get(id=order_id)
            with transaction.atomic():
                later = partial(ship.delay, order.id)
            transaction.on_commit(later)
    """) == []


def test_non_atomic_requests_is_not_a_transaction() -> None:
    assert codes("""
        from django.db import transaction
        from shop.tasks import ship

        @transaction.non_atomic_requests
        def view(request, order_id):
            ship.delay(order_id)
    """) == []


def test_a_binding_after_the_enqueue_does_not_change_its_argument() -> None:
    assert codes("""
        from shop.models import Order
        from shop.tasks import ship

        def view(order_id):
            order = Order.objects.get(id=order_id)
            ship.delay(order)
            order = order.id
    """) == ["JK101"]


def test_a_name_rebound_inside_a_loop_may_hold_any_of_its_bindings() -> None:
    found = codes("""
        from shop.models import Order
        from shop.tasks import ship

        def view(ids):
            for order_id in ids:
                if order_id:
                    ship.delay(previous)
                previous = Order.objects.get(id=order_id)
    """)
    assert [c for c in found if c == "JK101"] == ["JK101"]  # other rules may flag the loop


def test_celery_json_payload_carries_datetimes_but_not_sets() -> None:
    assert codes("""
        from datetime import datetime
        from shop.tasks import report

        report.delay(datetime.now(), {"a", "b"})
    """) == ["JK102"]


def test_a_partial_of_shared_task_is_a_decorator_alias() -> None:
    assert codes("""
        from functools import partial
        from celery import shared_task

        retrying_task = partial(shared_task, bind=True, max_retries=3)

        @retrying_task()
        def sync(self, order_id):
            try:
                push(order_id)
            except Exception:
                log.exception("failed")
    """) == ["JK301"]


def test_a_view_that_only_logs_smtp_errors_still_sends_synchronously() -> None:
    assert codes("""
        from smtplib import SMTPException
        from django.core.mail import send_mail

        def signup(request):
            try:
                send_mail("Welcome", "...", None, [request.POST["email"]])
            except SMTPException:
                logger.exception("welcome mail failed")
    """) == ["JK501"]
